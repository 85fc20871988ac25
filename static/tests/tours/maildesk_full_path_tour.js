import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";
import { chooseAccount, folderRow, openApp, row, screenshotSteps, technicalMenu } from "./maildesk_tour_utils";

const MAILBOX = "adele@contoso.test";
const SUBJECT = "MailDesk tour: hello me";

function mailDeskFolder(name) {
    return folderRow("Adele", name);
}

/** Compose in the MailDesk composer dialog (to: `to` when given), then Send. */
function composeAndSend({ to, body }) {
    return [
        { trigger: ".modal .o_maildesk_composer" },
        ...(to ? [{ trigger: ".modal .o_field_widget[name=to_emails] input", run: `edit ${to}` }] : []),
        ...(to ? [{ trigger: ".modal .o_field_widget[name=subject] input", run: `edit ${SUBJECT}` }] : []),
        {
            trigger: ".modal .o_field_widget[name=body_html] .odoo-editor-editable p",
            run: `editor ${body}`,
        },
        { trigger: ".modal button[name=action_send]", run: "click" },
        { content: "the composer closes once Outlook accepted the message", trigger: "body:not(:has(.modal))" },
    ];
}

/**
 * The user's whole path against the Microsoft emulator (tests/test_inbox_full_path.py): create the account,
 * Authorize through the emulator's consent page (answered by the test browser), incoming server Test & Confirm,
 * outgoing server Test, Fetch Folders, select, Sync now, read a message (body fetched on open), send to self
 * (in Sent Items at once), receive it, reply in the same conversation.
 */
registry.category("web_tour.tours").add("maildesk_full_path_tour", {
    url: "/odoo/maildesk?debug=1",
    steps: () => [
        {
            content: "a new user: the empty state points to the account form",
            trigger: ".o-maildesk-EmptyState:contains(Mailbox Accounts)",
        },
        ...screenshotSteps("empty_state"),
        { trigger: ".o-maildesk-EmptyState-create", run: "click" },
        { trigger: ".o_field_widget[name=name] input", run: "edit Adele" },
        { trigger: ".o_field_widget[name=email] input", run: `edit ${MAILBOX}` },
        ...stepUtils.saveForm(),
        {
            content: "Authorize Outlook: Microsoft's sign-in and consent page (the emulator's)",
            trigger: ".o_form_view button[name=action_authorize].btn-primary",
            run: "click",
        },
        {
            content: "back from the consent page: authorized",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Authorized)",
        },
        // the administrator's incoming server
        ...technicalMenu("Incoming Mail Servers"),
        { trigger: ".o_field_widget[name=name] input", run: "edit Adele Outlook" },
        { trigger: ".o_field_widget[name=server_type] input[data-value=maildesk_graph]", run: "click" },
        ...chooseAccount("maildesk_account_id", "Adele"),
        { trigger: ".o_form_view button[name=button_confirm_login]", run: "click" },
        {
            content: "Test & Confirm: confirmed",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Confirmed)",
        },
        // ... and outgoing server
        ...technicalMenu("Outgoing Mail Servers"),
        { trigger: ".o_field_widget[name=name] input", run: "edit Adele Outlook" },
        {
            trigger: ".o_field_widget[name=smtp_authentication] input[data-value=maildesk_graph]",
            run: "click",
        },
        ...chooseAccount("maildesk_account_id", "Adele"),
        ...stepUtils.saveForm(),
        { trigger: ".o_form_view button[name=test_smtp_connection]", run: "click" },
        {
            content: "Test: the connection works",
            trigger: ".o_notification:contains(Connection Test Successful)",
        },
        // back to the account: Fetch Folders, select, Sync now
        ...openApp("maildesk.menu_maildesk_root"),
        { trigger: ".o-maildesk-Toolbar-settings", run: "click" },
        { trigger: ".o-maildesk-Toolbar-settingsItem:contains(Mailbox Accounts)", run: "click" },
        { trigger: ".o_data_row .o_data_cell[name=name]:contains(Adele)", run: "click" },
        { trigger: ".o_form_view button[name=action_fetch_folders]", run: "click" },
        { trigger: ".o_notification:contains(Folders fetched)" },
        { trigger: ".o_notebook .nav-link:contains(Folders)", run: "click" },
        {
            content: "Inbox and Sent Items are preselected",
            trigger: ".o_field_widget[name=folder_ids] .o_data_row:has(.o_data_cell:contains(Sent Items)) .o_boolean_toggle input:checked",
        },
        {
            content: "select Archive too",
            trigger: ".o_field_widget[name=folder_ids] .o_data_row:has(.o_data_cell[name=complete_name][data-tooltip=Archive]) .o_boolean_toggle input:not(:checked)",
            run: "click",
        },
        ...stepUtils.saveForm(),
        { trigger: ".o_form_view button[name=action_sync_now]", run: "click" },
        { trigger: ".o_notification:contains(Sync)" },
        {
            content: "the account is connected",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Connected)",
        },
        { trigger: ".o_notification:contains(Sync) .o_notification_close", run: "click" },
        { trigger: "body:not(:has(.o_notification:contains(Sync)))" },
        ...screenshotSteps("account_form"),
        // the inbox
        { trigger: ".o_main_navbar a:contains(Inbox)", run: "click" },
        { trigger: ".o-maildesk-FolderPane-account:contains(Adele) .o-maildesk-AccountStatus" },
        { trigger: mailDeskFolder("Inbox"), run: "click" },
        { trigger: ".o-maildesk-MessageList-title:contains(Inbox · Adele)" },
        {
            content: "open the newest message: its body is fetched from Outlook on open",
            trigger: ".o-maildesk-MessageList-row[data-index='0']",
            run: "click",
        },
        { trigger: ".o-maildesk-BodyFrame-frame:iframe body:has(*)" },
        ...screenshotSteps("inbox_outlook"),
        // send to self: in Sent Items at once
        { trigger: ".o-maildesk-Toolbar-compose", run: "click" },
        ...composeAndSend({ to: MAILBOX, body: "Sent from the MailDesk tour." }),
        { trigger: mailDeskFolder("Sent Items"), run: "click" },
        {
            content: "in Sent Items at once (the local entry)",
            trigger: row(SUBJECT),
        },
        // it arrives
        { trigger: mailDeskFolder("Inbox"), run: "click" },
        { trigger: ".o-maildesk-MessageList-title:contains(Inbox · Adele)" },
        {
            // Outlook delivers the copy about 2 s after the send (the realistic emulator's sent_copy_delay): like a
            // user, Sync again until it is there
            content: "Sync: fetch new mail",
            trigger: ".o-maildesk-Toolbar-sync:enabled",
            async run() {
                const arrived = () => [...document.querySelectorAll(".o-maildesk-MessageList-subject")].some(
                    (subject) => subject.textContent.includes(SUBJECT)
                );
                for (let attempt = 0; attempt < 8 && !arrived(); attempt++) {
                    document.querySelector(".o-maildesk-Toolbar-sync:enabled")?.click();
                    await new Promise((resolve) => setTimeout(resolve, 1000));
                }
            },
        },
        { content: "it arrived", trigger: row(SUBJECT), run: "click" },
        { trigger: ".o-maildesk-BodyFrame-frame:iframe body:contains(Sent from the MailDesk tour.)" },
        // reply: same conversation
        { trigger: ".o-maildesk-MessageActions-reply", run: "click" },
        { trigger: ".modal .o_maildesk_composer .o_field_widget[name=subject] input" },
        ...composeAndSend({ body: "A reply from the MailDesk tour." }),
        { trigger: ".o-maildesk-Toolbar-sync:enabled", run: "click" },
        { trigger: ".o-maildesk-Toolbar-sync:enabled" },
        { trigger: mailDeskFolder("Sent Items"), run: "click" },
        { trigger: row(`Re: ${SUBJECT}`), run: "click" },
        {
            content: "the reply is in the conversation of the message it answers",
            trigger: ".o-maildesk-ReadingPane-thread:contains(Sent from the MailDesk tour.):contains(A reply from the MailDesk tour.)",
        },
    ],
});
