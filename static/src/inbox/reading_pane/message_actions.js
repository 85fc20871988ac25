import { Component, useState } from "@odoo/owl";
import { Dropdown } from "@web/core/dropdown/dropdown";
import { DropdownItem } from "@web/core/dropdown/dropdown_item";
import { useService } from "@web/core/utils/hooks";

/** Action bar of the open message (each button names its shortcut). */
export class MessageActions extends Component {
    static template = "maildesk.MessageActions";
    static components = { Dropdown, DropdownItem };
    static props = {};

    setup() {
        this.store = useState(useService("maildesk.store"));
        this.action = useService("action");
    }

    get message() {
        return this.store.message.data;
    }

    get moveTargets() {
        return this.store.accountFolders(this.message.account_id).filter((f) => f.id !== this.message.folder_id);
    }

    hasTag(tag) {
        return this.message.tag_ids.includes(tag.id);
    }

    toggleTag(tag) {
        const ids = this.hasTag(tag)
            ? this.message.tag_ids.filter((id) => id !== tag.id)
            : [...this.message.tag_ids, tag.id];
        return this.store.setTags(ids);
    }

    manageTags() {
        return this.action.doAction("maildesk.maildesk_tag_action", { onClose: () => this.store.loadTree() });
    }
}
