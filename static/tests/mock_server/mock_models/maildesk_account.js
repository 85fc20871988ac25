import { fields, models } from "@web/../tests/web_test_helpers";

export class MaildeskAccount extends models.Model {
    _name = "maildesk.account";

    name = fields.Char();
    email = fields.Char();
    state = fields.Selection({
        selection: [
            ["not_authorized", "Not authorized"],
            ["authorized", "Authorized"],
            ["connected", "Connected"],
            ["auth_invalid", "Invalid OAuth Configuration"],
            ["error", "Error"],
        ],
        default: "connected",
    });
    last_sync_at = fields.Datetime();
    last_error = fields.Text();

    action_authorize() {
        return { type: "ir.actions.client", tag: "display_notification", params: { message: "authorize" } };
    }

    action_sync_now() {
        return true;
    }
}
