import { Component, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";
import { formatFullDate, formatListDate, formatSize, initials } from "../../utils/format";
import { BodyFrame } from "./body_frame";
import { MessageActions } from "./message_actions";

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

    openLoggedRecord() {
        const { model, id } = this.message.logged_to;
        return this.action.doAction({ type: "ir.actions.act_window", res_model: model, res_id: id,
            views: [[false, "form"]] });
    }
}
