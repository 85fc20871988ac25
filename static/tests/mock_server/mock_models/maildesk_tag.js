import { fields, models } from "@web/../tests/web_test_helpers";

export class MaildeskTag extends models.Model {
    _name = "maildesk.tag";

    name = fields.Char();
    color = fields.Integer();
}
