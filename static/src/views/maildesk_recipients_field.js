import { Component, onWillUpdateProps, useState } from "@odoo/owl";
import { AutoComplete } from "@web/core/autocomplete/autocomplete";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

const ADDRESS_RE = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;
const SEPARATOR_KEYS = [",", ";"];

/** `text` split at commas and semicolons outside a quoted name and outside `<...>`. */
export function splitRecipients(text) {
    const parts = [];
    let current = "";
    let quoted = false;
    let angle = false;
    for (const char of text || "") {
        if (char === '"') {
            quoted = !quoted;
        } else if (char === "<" && !quoted) {
            angle = true;
        } else if (char === ">" && !quoted) {
            angle = false;
        }
        if (SEPARATOR_KEYS.includes(char) && !quoted && !angle) {
            parts.push(current);
            current = "";
        } else {
            current += char;
        }
    }
    parts.push(current);
    return parts.map((part) => part.trim()).filter(Boolean);
}

/** One recipient as typed: `Name <address>`, `"Doe, Ann" <address>` or a bare address. */
export function parseRecipient(raw) {
    const match = raw.match(/^\s*(?:"?([^"<]*?)"?\s*)?<([^<>]+)>\s*$/);
    const name = match ? (match[1] || "").trim() : "";
    const email = (match ? match[2] : raw).trim();
    return { raw, name, email, valid: ADDRESS_RE.test(email) };
}

/** `Name <address>`; a name with a comma, semicolon or quote is quoted, as the server's formataddr does. */
export function formatRecipient(name, email) {
    if (!name || name.toLowerCase() === email.toLowerCase()) {
        return email;
    }
    const safe = /[,;"<>]/.test(name) ? `"${name.replace(/["\\]/g, "\\$&")}"` : name;
    return `${safe} <${email}>`;
}

/**
 * `widget="maildesk_recipients"` on a Char field: one line of recipients (To, Cc or Bcc) holding contacts and
 * free addresses alike, as tags. Typing looks up contacts and the addresses of the synced mail the user may read
 * (`maildesk.draft.maildesk_recipient_suggestions`); a typed address is kept as it is, no contact is created.
 * The text being typed is part of the value at once: whatever is in the line when the draft is saved is sent.
 */
export class MaildeskRecipientsField extends Component {
    static template = "maildesk.RecipientsField";
    static components = { AutoComplete };
    static props = { ...standardFieldProps, placeholder: { type: String, optional: true } };

    setup() {
        this.orm = useService("orm");
        this.state = useState({ tags: this.tagsOf(this.props), pending: "" });
        this.inputRef = null;
        this.lastValue = this.value(this.props);
        onWillUpdateProps((next) => {
            const value = this.value(next);
            if (value !== this.lastValue) {
                this.lastValue = value;
                this.state.tags = this.tagsOf(next);
                this.state.pending = "";
            }
        });
    }

    value(props) {
        return props.record.data[props.name] || "";
    }

    tagsOf(props) {
        return splitRecipients(this.value(props)).map(parseRecipient);
    }

    get sources() {
        return [{ options: (term) => this.loadOptions(term), optionTemplate: "maildesk.RecipientsField.option" }];
    }

    setInputRef(ref) {
        this.inputRef = ref;
    }

    async loadOptions(term) {
        if (!term.trim()) {
            return [];
        }
        const found = await this.orm.call("maildesk.draft", "maildesk_recipient_suggestions", [term]);
        const taken = new Set(this.state.tags.map((tag) => tag.email.toLowerCase()));
        return found
            .filter((item) => !taken.has(item.email.toLowerCase()))
            .map((item) => ({
                label: formatRecipient(item.name, item.email),
                name: item.name,
                email: item.email,
                source: item.source === "contact" ? _t("Contact") : _t("Seen in mail"),
            }));
    }

    /** Write tags + the text being typed into the record (the value the server parses and sends). */
    commit() {
        const parts = this.state.tags.map((tag) => tag.raw);
        if (this.state.pending.trim()) {
            parts.push(this.state.pending.trim());
        }
        const value = parts.join(", ");
        this.lastValue = value || "";
        if (value !== this.value(this.props)) {
            this.props.record.update({ [this.props.name]: value || false });
        }
    }

    /** The text typed so far becomes tags (a comma, a semicolon, Enter, or leaving the line). */
    pendingToTags() {
        const chunks = splitRecipients(this.state.pending);
        if (!chunks.length) {
            return;
        }
        this.state.tags.push(...chunks.map(parseRecipient));
        this.state.pending = "";
        this.commit();
        const input = this.inputRef?.el;
        if (input && input.value) {
            // through an input event, so that the autocomplete's own copy of the text is cleared too
            input.value = "";
            input.dispatchEvent(new Event("input", { bubbles: true }));
        }
    }

    onSelect(option) {
        this.state.tags.push(parseRecipient(formatRecipient(option.name, option.email)));
        this.state.pending = "";
        this.commit();
    }

    onInput(ev) {
        if (!ev.target.matches("input")) {
            return;
        }
        this.state.pending = ev.target.value;
        this.commit();
    }

    onKeydown(ev) {
        if (!ev.target.matches("input")) {
            return;
        }
        if (SEPARATOR_KEYS.includes(ev.key) && !/"[^"]*$/.test(this.state.pending)) {
            ev.preventDefault();
            this.pendingToTags();
        } else if (ev.key === "Enter" && this.state.pending.trim()) {
            ev.preventDefault();
            ev.stopPropagation();
            this.pendingToTags();
        } else if (ev.key === "Backspace" && !ev.target.value && this.state.tags.length) {
            this.state.tags.pop();
            this.commit();
        }
    }

    onBlur() {
        // the text stays in the value either way: turning it into a tag is for the eye only
        setTimeout(() => {
            if (this.inputRef?.el && document.activeElement !== this.inputRef.el) {
                this.pendingToTags();
            }
        }, 200);
    }

    tagTitle(tag) {
        return tag.valid ? tag.raw : _t("%s: not a valid email address", tag.raw);
    }

    removeLabel(tag) {
        return _t("Remove %s", tag.name || tag.email);
    }

    remove(index) {
        this.state.tags.splice(index, 1);
        this.commit();
    }

    focusInput() {
        this.inputRef?.el?.focus();
    }
}

registry.category("fields").add("maildesk_recipients", {
    component: MaildeskRecipientsField,
    displayName: _t("MailDesk recipients"),
    supportedTypes: ["char", "text"],
    extractProps: ({ placeholder }) => ({ placeholder }),
});
