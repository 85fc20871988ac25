import { Component, useState } from "@odoo/owl";
import { Dropdown } from "@web/core/dropdown/dropdown";
import { DropdownItem } from "@web/core/dropdown/dropdown_item";
import { useService } from "@web/core/utils/hooks";

/** "Move to": every Outlook folder of the mailbox (synced or not), with a search box. */
export class MoveMenu extends Component {
    static template = "maildesk.MoveMenu";
    static components = { Dropdown, DropdownItem };
    static props = { onSelect: Function, disabled: { type: Boolean, optional: true } };

    setup() {
        this.store = useState(useService("maildesk.store"));
        this.state = useState({ query: "" });
    }

    get groups() {
        const query = this.state.query.trim().toLowerCase();
        return this.store.moveAccounts
            .map((account) => ({
                account,
                folders: this.store
                    .accountFolders(account.id)
                    .filter((folder) => !query || folder.path.toLowerCase().includes(query)),
            }))
            .filter((group) => group.folders.length);
    }

    get showAccounts() {
        return this.store.moveAccounts.length > 1;
    }
}
