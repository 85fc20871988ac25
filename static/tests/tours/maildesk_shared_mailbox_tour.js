import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";
import { chooseAccount, folderRow, openApp, row, technicalMenu } from "./maildesk_tour_utils";

const SHARED = "support@contoso.test";
const SUBJECT = "Tour: the printer is on fire";

/**
 * A shared mailbox through a connected personal account (tests/test_shared_mailbox_tour.py): on Adele's account
 * "Add Shared Mailbox", type support@ (MailDesk checks Exchange access), confirm its incoming server, Fetch Folders,
 * Sync now, then answer a customer's message as support@.
 */
registry.category("web_tour.tours").add("maildesk_shared_mailbox_tour", {
    url: "/odoo/action-maildesk.maildesk_account_action?debug=1",
    steps: () => [
        { trigger: ".o_data_row .o_data_cell[name=name]:contains(Adele)", run: "click" },
        {
            content: "the personal account is authorized: it can lend its sign-in to a shared mailbox",
            trigger: ".o_form_view button[name=action_add_shared_mailbox]",
            run: "click",
        },
        { trigger: ".modal .o_field_widget[name=address] input", run: `edit ${SHARED}` },
        { trigger: ".modal .o_field_widget[name=name] input", run: "edit Support" },
        {
            content: "MailDesk checks access (Full Access in Exchange) and adds it",
            trigger: ".modal button[name=action_confirm]",
            run: "click",
        },
        {
            content: "the shared mailbox account, connected through Adele's account",
            trigger: ".o_form_view .o_field_widget[name=connection_account_id]:contains(Adele)",
        },
        { trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Authorized)" },
        // the administrator's incoming server for support@
        ...technicalMenu("Incoming Mail Servers"),
        { trigger: ".o_field_widget[name=name] input", run: "edit Support Outlook" },
        { trigger: ".o_field_widget[name=server_type] input[data-value=maildesk_graph]", run: "click" },
        ...chooseAccount("maildesk_account_id", "Support"),
        { trigger: ".o_form_view button[name=button_confirm_login]", run: "click" },
        { trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Confirmed)" },
        // Fetch Folders, Sync now
        ...openApp("maildesk.menu_maildesk_root"),
        { trigger: ".o-maildesk-Toolbar-settings", run: "click" },
        { trigger: ".o-maildesk-Toolbar-settingsItem:contains(Mailbox Accounts)", run: "click" },
        { trigger: ".o_data_row .o_data_cell[name=name]:contains(Support)", run: "click" },
        { trigger: ".o_form_view button[name=action_fetch_folders]", run: "click" },
        {
            content: "support@'s folders are fetched (Inbox and Sent Items preselected)",
            trigger: ".o_field_widget[name=folder_ids] .o_data_row:has(.o_data_cell:contains(Sent Items)) .o_boolean_toggle input:checked",
        },
        { trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Connected)" },
        { trigger: ".o_form_view button[name=action_sync_now]", run: "click" },
        {
            content: "synchronized (the form reloads with the last successful sync)",
            trigger: ".o_form_view .o_field_widget[name=last_sync_at]:contains(/)",
            timeout: 30000,
        },
        // support@'s Inbox: answer the customer as support@
        { trigger: ".o_main_navbar a:contains(Inbox)", run: "click" },
        { trigger: folderRow("Support", "Inbox"), run: "click" },
        { trigger: ".o-maildesk-MessageList-title:contains(Inbox · Support)" },
        { trigger: row(SUBJECT), run: "click" },
        { trigger: ".o-maildesk-MessageActions-reply", run: "click" },
        { trigger: ".modal .o_maildesk_composer .o_field_widget[name=subject] input" },
        {
            trigger: ".modal .o_field_widget[name=body_html] .odoo-editor-editable p",
            run: "editor Support here: a technician is on the way.",
        },
        { trigger: ".modal button[name=action_send]", run: "click" },
        { content: "Exchange accepted it (Send As)", trigger: "body:not(:has(.modal))" },
        { trigger: folderRow("Support", "Sent Items"), run: "click" },
        { content: "in support@'s Sent Items at once", trigger: row(`Re: ${SUBJECT}`) },
        stepUtils.showAppsMenuItem(),
    ],
});
