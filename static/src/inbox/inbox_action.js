import { Component, onWillStart, useRef, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { EmptyState } from "./empty_state/empty_state";
import { FolderPane } from "./folder_pane/folder_pane";
import { useInboxHotkeys } from "./inbox_hotkeys";
import { MessageList } from "./message_list/message_list";
import { ReadingPane } from "./reading_pane/reading_pane";
import { Toolbar } from "./toolbar/toolbar";

// Action objects the inbox was already mounted for: the breadcrumbs mount the same one again (the view is kept),
// a menu click loads a new one (the inbox opens on All mailboxes, whatever folder was open before).
const mountedActions = new WeakSet();

/** Thin shell of the MailDesk inbox: restores the view from the URL and lays out the panes. */
export class InboxAction extends Component {
    static template = "maildesk.InboxAction";
    static components = { EmptyState, FolderPane, MessageList, ReadingPane, Toolbar };
    static props = { ...standardActionServiceProps };

    setup() {
        this.store = useState(useService("maildesk.store"));
        this.root = useRef("root");
        useInboxHotkeys(this.store, this.root);
        onWillStart(() => this.store.start(this.initialState()));
    }

    /**
     * `/odoo/maildesk?folder_id=3&message_id=42` (or an action's params) → view and message to open. The
     * params are consumed: coming back through the breadcrumbs keeps what the user was looking at.
     */
    initialState() {
        const sources = [this.props.action.params, this.props.action.context?.params].filter(Boolean);
        const read = (key) => parseInt(sources.map((params) => params[key]).find(Boolean)) || false;
        const consume = (key) => sources.forEach((params) => delete params[key]);
        const messageId = read("message_id");
        let view = null;
        for (const type of ["folder", "account", "tag"]) {
            const id = read(`${type}_id`);
            if (id && !view) {
                view = { type, id };
            }
            consume(`${type}_id`);
        }
        consume("message_id");
        const fresh = !mountedActions.has(this.props.action);
        mountedActions.add(this.props.action);
        return { view, messageId, fresh };
    }

    /** Narrow screens show one pane at a time, switched from a bottom bar. */
    get paneButtons() {
        return [
            { id: "folders", icon: "fa-folder-o", label: _t("Folders") },
            { id: "list", icon: "fa-list", label: _t("Messages") },
            { id: "message", icon: "fa-envelope-open-o", label: _t("Reading") },
        ];
    }

    get hasAccounts() {
        return this.store.tree.accounts.length > 0;
    }
}

registry.category("actions").add("maildesk.inbox", InboxAction);
