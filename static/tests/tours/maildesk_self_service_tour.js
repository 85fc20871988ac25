import { registry } from "@web/core/registry";

const MAILBOX = "adele@contoso.test";

/**
 * Self-service connect as a plain MailDesk user (tests/test_self_service.py): Preferences > Outlook Mailbox >
 * Connect my Outlook, the address, Microsoft's sign-in (the emulator's consent page, answered by the test browser),
 * and back on the account: Connected, Inbox and Sent Items selected, no administrator involved.
 */
registry.category("web_tour.tours").add("maildesk_self_service_tour", {
    url: "/odoo",
    steps: () => [
        { content: "the user menu", trigger: ".o_user_menu button", run: "click" },
        { trigger: ".dropdown-item[data-menu=settings]", run: "click" },
        { trigger: ".modal .nav-link:contains(Outlook Mailbox)", run: "click" },
        { trigger: ".modal button:contains(Connect my Outlook)", run: "click" },
        { trigger: ".modal .o_field_widget[name=email] input", run: `edit ${MAILBOX}` },
        {
            content: "sign in with Microsoft: the emulator's consent page, then back to the account",
            trigger: ".modal button[name=action_connect]",
            run: "click",
        },
        {
            content: "back from Microsoft: the mailbox is connected, without an administrator",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Connected)",
            timeout: 30000,
        },
        { trigger: ".o_notebook .nav-link:contains(Folders)", run: "click" },
        {
            content: "Inbox is selected for sync",
            trigger: ".o_field_widget[name=folder_ids] .o_data_row:has(.o_data_cell:contains(Inbox)) .o_boolean_toggle input:checked",
        },
    ],
});
