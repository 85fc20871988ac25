import { onMounted, onWillUnmount, useExternalListener } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { FormController } from "@web/views/form/form_controller";
import { formView } from "@web/views/form/form_view";

export const AUTOSAVE_IDLE_MS = 10000;
const AUTOSAVE_CHECK_MS = 2000;
const FOCUS_TRIES = 20;
const REPLY_KINDS = ["reply", "reply_all"];

/**
 * The composer's form (`js_class="maildesk_composer_form"` on `maildesk.draft`): the draft is saved when it has
 * unsaved changes after ~10 s without typing, and when the dialog is closed (Escape, the X): closing never loses
 * what was typed. Focus goes to To for a new message or a forward, to the top of the text for a reply.
 */
export class MaildeskComposerFormController extends FormController {
    setup() {
        super.setup();
        this.lastActivity = Date.now();
        this.autosaving = null;
        const noteActivity = (ev) => {
            if (this.rootRef.el?.contains(ev.target)) {
                this.lastActivity = Date.now();
            }
        };
        for (const type of ["keydown", "input", "pointerdown", "paste", "drop"]) {
            useExternalListener(window, type, noteActivity, { capture: true });
        }
        if (this.env.dialogData) {
            // Escape and the dialog's X: save first (Odoo's default dialog close would drop the changes)
            this.env.dialogData.dismiss = () => this.saveIfDirty();
        }
        onMounted(() => {
            this.autosaveTimer = setInterval(() => this.autosaveWhenIdle(), AUTOSAVE_CHECK_MS);
            this.placeFocus(FOCUS_TRIES);
        });
        onWillUnmount(() => clearInterval(this.autosaveTimer));
    }

    get composerRecord() {
        return this.model.root;
    }

    async autosaveWhenIdle() {
        const record = this.composerRecord;
        if (this.autosaving || !record.isInEdition || record.data.state === "sent") {
            return;
        }
        if (Date.now() - this.lastActivity < AUTOSAVE_IDLE_MS || !(await record.isDirty())) {
            return;
        }
        this.autosaving = this.saveIfDirty().finally(() => (this.autosaving = null));
        await this.autosaving;
    }

    async saveIfDirty() {
        const record = this.composerRecord;
        if (record.data.state === "sent" || !(await record.isDirty())) {
            return true;
        }
        return record.save({ reload: false });
    }

    /** To for a new message / forward, the start of the body for a reply (Odoo's autofocus picks From). */
    placeFocus(tries) {
        const root = this.rootRef.el;
        if (!root || this.composerRecord.data.state === "sent") {
            return;
        }
        const reply = REPLY_KINDS.includes(this.composerRecord.data.kind);
        const target = reply
            ? root.querySelector(".o_field_widget[name=body_html] .odoo-editor-editable")
            : root.querySelector(".o_field_widget[name=to_emails] input");
        if (!target) {
            if (tries > 0) {
                setTimeout(() => this.placeFocus(tries - 1), 50);
            }
            return;
        }
        target.focus();
        if (reply) {
            const selection = target.ownerDocument.getSelection();
            const range = target.ownerDocument.createRange();
            range.setStart(target.firstElementChild || target, 0);
            range.collapse(true);
            selection.removeAllRanges();
            selection.addRange(range);
        }
    }
}

registry.category("views").add("maildesk_composer_form", {
    ...formView,
    Controller: MaildeskComposerFormController,
});
