import { fields, models } from "@web/../tests/web_test_helpers";

export class MaildeskFolder extends models.Model {
    _name = "maildesk.folder";

    account_id = fields.Many2one({ relation: "maildesk.account" });
    name = fields.Char();
    role = fields.Char();
    parent_id = fields.Many2one({ relation: "maildesk.folder" });
    sequence = fields.Integer();
    sync_enabled = fields.Boolean({ default: true });
    sync_state = fields.Char({ default: "done" });
    backfill_progress = fields.Float();
    last_error = fields.Text();
}
