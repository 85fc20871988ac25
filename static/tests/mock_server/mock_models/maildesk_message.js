import { fields, models } from "@web/../tests/web_test_helpers";

/** JS twin of maildesk.message with the message actions the inbox calls (models/maildesk_message.py), simplified. */
export class MaildeskMessage extends models.Model {
    _name = "maildesk.message";

    account_id = fields.Many2one({ relation: "maildesk.account" });
    folder_id = fields.Many2one({ relation: "maildesk.folder" });
    subject = fields.Char();
    from_name = fields.Char();
    from_address = fields.Char();
    to_recipients = fields.Text();
    cc_recipients = fields.Text();
    received_at = fields.Datetime();
    body_preview = fields.Text();
    body_html = fields.Html();
    is_read = fields.Boolean();
    flag_status = fields.Char({ default: "notFlagged" });
    has_attachments = fields.Boolean();
    tag_ids = fields.Many2many({ relation: "maildesk.tag" });
    direction = fields.Char({ default: "incoming" });
    thread_key = fields.Char();

    action_mark_read(ids) {
        this.write(ids, { is_read: true });
        return true;
    }

    action_mark_unread(ids) {
        this.write(ids, { is_read: false });
        return true;
    }

    action_toggle_flag(ids) {
        for (const m of this.browse(ids)) {
            this.write([m.id], { flag_status: m.flag_status === "flagged" ? "notFlagged" : "flagged" });
        }
        return true;
    }

    action_set_tags(ids, tagIds) {
        this.write(ids, { tag_ids: [[6, 0, tagIds]] });
        return true;
    }

    action_move(ids, folderId) {
        this.write(ids, { folder_id: folderId });
        return true;
    }

    action_delete(ids) {
        const [message] = this.browse(ids);
        const [trash] = this.env["maildesk.folder"].search([
            ["account_id", "=", message.account_id],
            ["role", "=", "deleteditems"],
        ]);
        this.write(ids, { folder_id: trash });
        return true;
    }
}
