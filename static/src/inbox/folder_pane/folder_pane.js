import { Component, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";
import { AccountStatus } from "./account_status";
import { FolderNode } from "./folder_node";

/** Left pane: All mailboxes, each account (status + folder tree with unread badges), tags. */
export class FolderPane extends Component {
    static template = "maildesk.FolderPane";
    static components = { AccountStatus, FolderNode };
    static props = {};

    setup() {
        this.store = useState(useService("maildesk.store"));
        this.action = useService("action");
        this.state = useState({ collapsed: {} });
    }

    isView(type, id) {
        return this.store.view.type === type && (type === "all" || this.store.view.id === id);
    }

    hasSynced(account) {
        const stack = [...account.folders];
        while (stack.length) {
            const folder = stack.pop();
            if (folder.synced !== false) {
                return true;
            }
            stack.push(...folder.children);
        }
        return false;
    }

    toggleAccount(account) {
        this.state.collapsed[account.id] = !this.state.collapsed[account.id];
    }

    openAccount(account) {
        return this.action.doAction("maildesk.maildesk_account_action", {
            props: { resId: account.id },
            viewType: "form",
        });
    }
}
