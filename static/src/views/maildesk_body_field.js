import { Component, onWillStart, onWillUpdateProps, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { BodyFrame } from "../inbox/reading_pane/body_frame";

/**
 * `widget="maildesk_body"`: a message body in the inbox's sandboxed frame (message form view). The body and
 * its inline image URLs come from `maildesk.inbox.maildesk_body_frame`, as the reading pane gets them: the
 * frame's CSP allows exactly those images, and a body stored long ago is confined again.
 */
export class MaildeskBodyField extends Component {
    static template = "maildesk.MaildeskBodyField";
    static components = { BodyFrame };
    static props = { ...standardFieldProps };

    setup() {
        this.orm = useService("orm");
        this.state = useState({ html: "", images: [] });
        onWillStart(() => this.load(this.props));
        onWillUpdateProps((next) => {
            if (next.record.resId !== this.props.record.resId || this.value(next) !== this.value(this.props)) {
                return this.load(next);
            }
        });
    }

    value(props) {
        return (props.record.data[props.name] || "").toString();
    }

    async load(props) {
        if (!props.record.resId || !this.value(props)) {
            Object.assign(this.state, { html: "", images: [] });
            return;
        }
        const frame = await this.orm.call("maildesk.inbox", "maildesk_body_frame", [props.record.resId]);
        Object.assign(this.state, { html: frame.body_html || "", images: frame.inline_images || [] });
    }
}

registry.category("fields").add("maildesk_body", {
    component: MaildeskBodyField,
    displayName: "MailDesk message body",
    supportedTypes: ["html"],
});
