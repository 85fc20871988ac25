import { Component } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";

/** No mailbox yet: walk the user to Settings ⚙ → Mailbox Accounts → Create. */
export class EmptyState extends Component {
    static template = "maildesk.EmptyState";
    static props = {};

    setup() {
        this.action = useService("action");
    }

    createAccount() {
        return this.action.doAction("maildesk.maildesk_account_action", {
            props: { resId: false },
            viewType: "form",
        });
    }
}
