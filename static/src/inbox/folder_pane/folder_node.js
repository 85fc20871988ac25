import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
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
        this.state = useState({ dropTarget: false });
    }

    get icon() {
        return ROLE_ICONS[this.props.folder.role] || "fa-folder-o";
    }

    get isActive() {
        return this.store.view.type === "folder" && this.store.view.id === this.props.folder.id;
    }

    get synced() {
        return this.props.folder.synced !== false;
    }

    get title() {
        return this.synced ? this.props.folder.name : _t("%s (not synced: open it to sync it)", this.props.folder.name);
    }

    /** Messages dragged from the list can be dropped on any folder (it is a move). */
    onDragOver(ev) {
        if (this.store.dragIds) {
            ev.preventDefault();
            if (ev.dataTransfer) {
                ev.dataTransfer.dropEffect = "move";
            }
            this.state.dropTarget = true;
        }
    }

    onDragLeave() {
        this.state.dropTarget = false;
    }

    onDrop(ev) {
        ev.preventDefault();
        this.state.dropTarget = false;
        return this.store.dropOnFolder(this.props.folder.id);
    }

    select() {
        return this.store.selectView({ type: "folder", id: this.props.folder.id });
    }
}
