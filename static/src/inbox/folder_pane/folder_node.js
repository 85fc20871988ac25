import { Component, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";

const ROLE_ICONS = {
    inbox: "fa-inbox",
    sentitems: "fa-paper-plane-o",
    drafts: "fa-file-text-o",
    deleteditems: "fa-trash-o",
    archive: "fa-archive",
    junkemail: "fa-ban",
};

/** One folder of the tree and its subfolders. */
export class FolderNode extends Component {
    static template = "maildesk.FolderNode";
    static components = { FolderNode };
    static props = { folder: Object, depth: Number };

    setup() {
        this.store = useState(useService("maildesk.store"));
    }

    get icon() {
        return ROLE_ICONS[this.props.folder.role] || "fa-folder-o";
    }

    get isActive() {
        return this.store.view.type === "folder" && this.store.view.id === this.props.folder.id;
    }

    select() {
        return this.store.selectView({ type: "folder", id: this.props.folder.id });
    }
}
