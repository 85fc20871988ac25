import { Component, useState } from "@odoo/owl";
import { Dropdown } from "@web/core/dropdown/dropdown";
import { DropdownItem } from "@web/core/dropdown/dropdown_item";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { SearchBox } from "./search_box";

/** Top bar: compose, search, quick filters, conversation grouping and the settings gear. */
export class Toolbar extends Component {
    static template = "maildesk.Toolbar";
    static components = { Dropdown, DropdownItem, SearchBox };
    static props = {};

    setup() {
        this.store = useState(useService("maildesk.store"));
        this.action = useService("action");
    }

    get quickFilters() {
        return [
            { name: "unread", label: _t("Unread"), icon: "fa-circle" },
            { name: "flagged", label: _t("Flagged"), icon: "fa-flag" },
            { name: "attachments", label: _t("Attachments"), icon: "fa-paperclip" },
            { name: "incoming", label: _t("Incoming"), icon: "fa-arrow-down" },
            { name: "outgoing", label: _t("Outgoing"), icon: "fa-arrow-up" },
        ];
    }

    isActive(name) {
        return this.store.filters.includes(name);
    }

    get settingsItems() {
        return [
            { id: "accounts", label: _t("Mailbox Accounts"), action: "maildesk.maildesk_account_action" },
            { id: "tags", label: _t("Tags"), action: "maildesk.maildesk_tag_action" },
            { id: "messages", label: _t("All messages (list view)"), action: "maildesk.maildesk_message_action" },
        ];
    }

    openSettings(item) {
        return this.action.doAction(item.action);
    }
}
