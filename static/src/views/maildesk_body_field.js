import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { BodyFrame } from "../inbox/reading_pane/body_frame";

/** `widget="maildesk_body"`: a message body in the inbox's sandboxed frame (message form view). */
export class MaildeskBodyField extends Component {
    static template = "maildesk.MaildeskBodyField";
    static components = { BodyFrame };
    static props = { ...standardFieldProps };

    get html() {
        return (this.props.record.data[this.props.name] || "").toString();
    }
}

registry.category("fields").add("maildesk_body", {
    component: MaildeskBodyField,
    displayName: "MailDesk message body",
    supportedTypes: ["html"],
});
