import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { formatFullDate, formatListDate } from "../../utils/format";

const SENT_ROLES = ["sentitems", "drafts", "outbox"];

export const ROW_HEIGHT = 76; // $o-maildesk-row-height in message_list.scss

/** One row: unread dot, sender (or recipient for sent mail), date, subject, markers, preview, tags. */
export class MessageRow extends Component {
    static template = "maildesk.MessageRow";
    static props = { row: Object, index: Number, selected: Boolean };

    setup() {
        this.store = useState(useService("maildesk.store"));
    }

    get top() {
        return this.props.index * ROW_HEIGHT;
    }

    /**
     * A copy in Sent Items (or Drafts, Outbox) shows whom it went to; any other copy whom it came from — so mail
     * to yourself reads "To: Me" in Sent Items and "Me" in the Inbox, not "To:" twice.
     */
    get isSentCopy() {
        const row = this.props.row;
        return SENT_ROLES.includes(row.folder_role) || (row.direction === "outgoing" && !row.folder_role);
    }

    get correspondent() {
        const row = this.props.row;
        return this.isSentCopy ? _t("To: %s", row.to || "…") : row.from_name || row.from_address;
    }

    get date() {
        return formatListDate(this.props.row.date);
    }

    get fullDate() {
        return formatFullDate(this.props.row.date);
    }

    get tags() {
        return this.props.row.tag_ids.map((id) => this.store.tagById(id)).filter(Boolean);
    }

    get checked() {
        return this.store.selection.isChecked(this.props.row.id);
    }

    /** Ctrl/Cmd-click ticks, Shift-click ticks a range: neither opens the message nor marks it read. */
    onClick(ev) {
        return this.store.clickRow(this.props.row, this.props.index, ev);
    }

    /** Shift-click would otherwise select the text between the two rows. */
    onMouseDown(ev) {
        if (ev.shiftKey) {
            ev.preventDefault();
        }
    }

    onCheck(ev) {
        if (ev.shiftKey) {
            return this.store.selectRangeTo(this.props.index);
        }
        this.store.selection.toggle(this.props.row.id, this.props.index);
    }

    onDragStart(ev) {
        this.store.startDrag(this.props.row);
        if (ev.dataTransfer) {
            ev.dataTransfer.effectAllowed = "move";
            ev.dataTransfer.setData("text/plain", this.props.row.subject || "");
        }
    }
}
