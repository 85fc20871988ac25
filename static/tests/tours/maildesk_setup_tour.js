import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const MAILBOX = "adele@contoso.test";
const STATUS = ".o_form_view .o_statusbar_status .o_arrow_button_current";

/**
 * The setup path of a plain MailDesk user, without developer mode (tests/test_inbox_setup_tour.py), in three
 * parts around the administrator's step: the welcome screen walks the whole path; after Authorize the account
 * says exactly which step is left and whom to ask; then Fetch Folders, an unsynced Inbox synced in one click;
 * and Disconnect -> Authorize comes back to Connected.
 */
registry.category("web_tour.tours").add("maildesk_setup_user_tour", {
    steps: () => [
        {
            content: "the welcome screen names every step, the incoming server included",
            trigger: ".o-maildesk-EmptyState:contains(Set Up Incoming Server):contains(Sync this folder)",
        },
        { trigger: ".o-maildesk-EmptyState-create", run: "click" },
        { trigger: ".o_field_widget[name=name] input", run: "edit Adele" },
        { trigger: ".o_field_widget[name=email] input", run: `edit ${MAILBOX}` },
        ...stepUtils.saveForm(),
        {
            content: "Authorize Outlook: the emulator's consent page (answered by the test browser)",
            trigger: ".o_form_view button[name=action_authorize].btn-primary",
            run: "click",
        },
        { trigger: `${STATUS}:contains(Authorized)` },
        {
            content: "the account says what is left, and that an administrator does it",
            trigger: ".o_form_view .alert-info:contains(Set Up Incoming Server):contains(ask one)",
        },
        {
            content: "the button explains whom to ask",
            trigger: ".o_form_view .alert-info button[name=action_set_up_incoming_server]",
            run: "click",
        },
        { trigger: ".modal:contains(Odoo administrator)" },
        { trigger: ".modal .modal-footer .btn-primary", run: "click" },
        { trigger: "body:not(:has(.modal))" },
    ],
});

registry.category("web_tour.tours").add("maildesk_setup_sync_tour", {
    steps: () => [
        { trigger: `${STATUS}:contains(Authorized)` },
        { trigger: ".o_form_view button[name=action_fetch_folders]", run: "click" },
        { trigger: ".o_form_view .o_field_widget[name=folder_ids] .o_data_row:contains(Inbox)" },
        { trigger: ".o_form_view button[name=action_open_inbox]", run: "click" },
        {
            content: "the whole tree: Archive, not synced, is greyed; open it",
            trigger: ".o-maildesk-FolderPane-account:contains(Adele) .o-maildesk-FolderNode-row--unsynced:contains(Archive)",
            run: "click",
        },
        {
            content: "one click: Sync this folder",
            trigger: ".o-maildesk-MessageList-syncFolder",
            run: "click",
        },
        {
            content: "synced: no longer greyed",
            trigger: ".o-maildesk-FolderPane-account:contains(Adele) .o-maildesk-FolderNode-row:not(.o-maildesk-FolderNode-row--unsynced):contains(Archive)",
        },
        { trigger: "body:not(:has(.o-maildesk-MessageList-unsynced))" },
        { trigger: ".o-maildesk-FolderPane-account:contains(Adele) .o-maildesk-AccountStatus[data-status=connected]" },
        {
            trigger: ".o-maildesk-FolderPane-account:contains(Adele) .o-maildesk-FolderNode-row:contains(Inbox)",
            run: "click",
        },
        { trigger: ".o-maildesk-MessageList-row" },
    ],
});

registry.category("web_tour.tours").add("maildesk_reauthorize_tour", {
    steps: () => [
        { trigger: `${STATUS}:contains(Connected)` },
        { trigger: ".o_form_view button[name=action_disconnect]", run: "click" },
        { trigger: ".modal .modal-footer .btn-primary", run: "click" },
        { trigger: `${STATUS}:contains(Not authorized)` },
        {
            content: "Authorize again: the incoming server is confirmed again with the new sign-in",
            trigger: ".o_form_view button[name=action_authorize].btn-primary",
            run: "click",
        },
        { trigger: `${STATUS}:contains(Connected)` },
    ],
});
