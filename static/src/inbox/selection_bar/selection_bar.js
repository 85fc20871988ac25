import { Component, useState } from "@odoo/owl";
import { Dropdown } from "@web/core/dropdown/dropdown";
import { DropdownItem } from "@web/core/dropdown/dropdown_item";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { MoveMenu } from "./move_menu";

/**
 * Above the message list while rows are ticked: how many (and "select all in this folder", which is the whole
 * folder on the server), the bulk actions, and the progress of the one running.
 */
export class SelectionBar extends Component {
    static template = "maildesk.SelectionBar";
    static components = { Dropdown, DropdownItem, MoveMenu };
    static props = {};

    setup() {
        this.store = useState(useService("maildesk.store"));
    }

    get count() {
        return this.store.selectionCount;
    }

    get countLabel() {
        return this.store.selection.state.all
            ? _t("All %s messages selected", this.count.toLocaleString())
            : _t("%s selected", this.count.toLocaleString());
    }

    get canSelectAll() {
        return !this.store.selection.state.all && this.store.list.total > this.count;
    }

    get selectAllLabel() {
        return _t("Select all %s", this.store.list.total.toLocaleString());
    }

    get progress() {
        const p = this.store.bulkProgress;
        return p && { ...p, percent: p.total ? Math.round((100 * p.done) / p.total) : 0 };
    }

    get actions() {
        return [
            { id: "mark_read", label: _t("Mark as read"), icon: "fa-envelope-open-o" },
            { id: "mark_unread", label: _t("Mark as unread"), icon: "fa-envelope" },
            { id: "flag", label: _t("Flag"), icon: "fa-flag" },
            { id: "unflag", label: _t("Remove the flag"), icon: "fa-flag-o" },
        ];
    }
}
