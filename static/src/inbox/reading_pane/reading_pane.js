import { Component, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";
import { deserializeDateTime } from "@web/core/l10n/dates";
import { formatDay, formatFullDate, formatListDate, formatSize, formatTime, initials } from "../../utils/format";
import { BodyFrame } from "./body_frame";
import { MessageActions } from "./message_actions";

const SAFE_LINK = /^https?:\/\/[^\s/?#\\]+/i;

/** Right pane: headers, actions, the sanitized body (loaded on open), attachments, conversation. */
export class ReadingPane extends Component {
    static template = "maildesk.ReadingPane";
    static components = { BodyFrame, MessageActions };
    static props = {};

    setup() {
        this.store = useState(useService("maildesk.store"));
        this.action = useService("action");
        this.state = useState({ downloading: false });
    }

    async downloadAttachments() {
        this.state.downloading = true;
        try {
            await this.store.downloadAttachments();
        } finally {
            this.state.downloading = false;
        }
    }

    get message() {
        return this.store.message.data;
    }

    get tags() {
        return (this.message?.tag_ids || []).map((id) => this.store.tagById(id)).filter(Boolean);
    }

    get initials() {
        return initials(this.message.from_name || this.message.from_address);
    }

    formatFullDate(value) {
        return formatFullDate(value);
    }

    formatListDate(value) {
        return formatListDate(value);
    }

    formatSize(value) {
        return formatSize(value);
    }

    attachmentUrl(attachment) {
        return `/web/content/${attachment.id}?download=true`;
    }

    /** A cloud link's URL, only when http(s) (checked server-side too): never javascript:, data: or relative. */
    linkUrl(attachment) {
        return SAFE_LINK.test(attachment.url || "") ? attachment.url : "";
    }

    get meetingIcon() {
        const type = this.message.meeting.type;
        if (type === "meetingCancelled" || type === "meetingDeclined") {
            return "fa-calendar-times-o";
        }
        return type === "meetingRequest" ? "fa-calendar" : "fa-calendar-check-o";
    }

    /** "Mon 3 Mar 2030, 10:00 – 11:00" in the user's time zone (the list's style); the day alone for an all-day
     * meeting. */
    get meetingWhen() {
        const { start, end, all_day } = this.message.meeting;
        const from = deserializeDateTime(start);
        if (all_day) {
            return formatDay(from);
        }
        const to = end ? deserializeDateTime(end) : null;
        const startText = `${formatDay(from)}, ${formatTime(from)}`;
        if (!to) {
            return startText;
        }
        const endText = to.hasSame(from, "day") ? formatTime(to) : `${formatDay(to)}, ${formatTime(to)}`;
        return `${startText} – ${endText}`;
    }

    openLoggedRecord() {
        const { model, id } = this.message.logged_to;
        return this.action.doAction({ type: "ir.actions.act_window", res_model: model, res_id: id,
            views: [[false, "form"]] });
    }
}
