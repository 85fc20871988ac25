import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";
import { row, screenshotSteps } from "./maildesk_tour_utils";

const ALL_UNREAD = ".o-maildesk-MessageList-canvas:not(:has(.o-maildesk-MessageList-row:not(.o-maildesk-MessageList-row--unread)))";
const ALL_FROM_GRACE =
    ".o-maildesk-MessageList-canvas:not(:has(.o-maildesk-MessageList-row:not(:contains(Grace Hopper))))";

/** The inbox over seeded data (tests/inbox_data.py): no Graph request is needed on this path. */
registry.category("web_tour.tours").add("maildesk_inbox_tour", {
    url: "/odoo/maildesk",
    steps: () => [
        {
            content: "All mailboxes is the starting view, with its unread count",
            trigger: ".o-maildesk-FolderPane-all.o-maildesk-FolderPane-item--active .o-maildesk-FolderPane-badge",
        },
        {
            content: "each account shows its status and last sync",
            trigger: ".o-maildesk-FolderPane-account:contains(Sales) .o-maildesk-AccountStatus[data-status=connected]:contains(Synced)",
        },
        {
            content: "open the Sales Inbox",
            trigger: ".o-maildesk-FolderPane-account:contains(Sales) .o-maildesk-FolderNode-row:contains(Inbox)",
            run: "click",
        },
        {
            trigger: ".o-maildesk-MessageList-title:contains(Inbox · Sales)",
        },
        {
            content: "open the welcome message",
            trigger: row("Welcome to MailDesk"),
            run: "click",
        },
        {
            content: "the body loads in the sandboxed frame",
            trigger: ".o-maildesk-BodyFrame-frame[sandbox='allow-same-origin']:iframe h2:contains(Welcome!)",
        },
        {
            content: "attachments can be downloaded",
            trigger: ".o-maildesk-ReadingPane-attachment[href*='download=true']:contains(MailDesk guide.txt)",
        },
        {
            content: "the conversation is listed",
            trigger: ".o-maildesk-ReadingPane-thread .o-maildesk-ReadingPane-threadItem--current",
        },
        {
            content: "opening marked it read",
            trigger: `${row("Welcome to MailDesk")}:not(.o-maildesk-MessageList-row--unread)`,
        },
        ...screenshotSteps("inbox"),
        {
            content: "quick filter: unread",
            trigger: ".o-maildesk-Toolbar-filter[data-filter=unread]",
            run: "click",
        },
        {
            trigger: `.o-maildesk-Toolbar-filter[data-filter=unread].active`,
        },
        {
            trigger: `${ALL_UNREAD}:has(.o-maildesk-MessageList-row)`,
        },
        {
            trigger: ".o-maildesk-Toolbar-filter[data-filter=unread]",
            run: "click",
        },
        {
            content: "search by sender",
            trigger: ".o-maildesk-SearchBox-input",
            run: "edit from:grace && press Enter",
        },
        {
            trigger: `${ALL_FROM_GRACE}:has(.o-maildesk-MessageList-row)`,
        },
        {
            trigger: ".o-maildesk-SearchBox-clear",
            run: "click",
        },
        {
            content: "conversations on: one row per thread",
            trigger: ".o-maildesk-Toolbar-grouped",
            run: "click",
        },
        {
            trigger: ".o-maildesk-MessageList-count:contains(conversations)",
        },
        {
            trigger: ".o-maildesk-MessageList-threadCount",
        },
        {
            trigger: ".o-maildesk-Toolbar-grouped",
            run: "click",
        },
        {
            trigger: ".o-maildesk-MessageList-count:contains(messages)",
        },
        {
            content: "tag filter in the sidebar",
            trigger: ".o-maildesk-FolderPane-tag:contains(Urgent)",
            run: "click",
        },
        {
            trigger: ".o-maildesk-MessageList-title:contains(Urgent)",
        },
        {
            content: "open it with the keyboard (j) and flag it (s)",
            trigger: ".o-maildesk-MessageList-row .o-maildesk-MessageList-tag:contains(Urgent)",
            run: "press j",
        },
        {
            trigger: ".o-maildesk-ReadingPane-subject",
            run: "press s",
        },
        {
            trigger: ".o-maildesk-MessageActions-flag.active",
        },
        {
            content: "read-only permission: MailDesk says the flag stays in MailDesk",
            trigger: ".o_notification:contains(Changed in MailDesk only) .o_notification_close",
            run: "click",
        },
        {
            content: "Settings gear → Mailbox Accounts",
            trigger: ".o-maildesk-Toolbar-settings",
            run: "click",
        },
        {
            trigger: ".o-maildesk-Toolbar-settingsItem:contains(Mailbox Accounts)",
            run: "click",
        },
        {
            trigger: ".o_list_view .o_data_row .o_data_cell[name=name]:contains(Sales)",
            run: "click",
        },
        {
            content: "the account form with its header buttons and status bar",
            trigger: ".o_form_view .o_statusbar_status",
        },
        ...screenshotSteps("account_form_seeded"),
        {
            content: "back to the inbox through the breadcrumb",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains(Inbox)",
            run: "click",
        },
        {
            content: "the inbox kept its view",
            trigger: ".o-maildesk-MessageList-title:contains(Urgent) ~ .o-maildesk-MessageList-count",
        },
        {
            content: "the account's smart button opens its mail in the inbox",
            trigger: ".o-maildesk-FolderPane-account:contains(Sales) .o-maildesk-FolderPane-accountSettings",
            run: "click",
        },
        {
            trigger: ".o_form_view .oe_stat_button[name=action_open_inbox]:contains(Messages)",
            run: "click",
        },
        {
            trigger: ".o-maildesk-MessageList-title:contains(Sales)",
        },
        {
            trigger: ".o-maildesk-FolderPane-accountName.o-maildesk-FolderPane-item--active:contains(Sales)",
        },
        stepUtils.showAppsMenuItem(),
        {
            content: "Settings › MailDesk: the Entra ID app and permission level",
            trigger: '.o_app[data-menu-xmlid="base.menu_administration"]',
            run: "click",
        },
        {
            trigger: ".settings_tab .tab[data-key=maildesk]",
            run: "click",
        },
        {
            trigger: ".app_settings_block[data-key=maildesk]:visible",
        },
        ...screenshotSteps("settings"),
    ],
});
