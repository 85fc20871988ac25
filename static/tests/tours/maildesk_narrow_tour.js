import { registry } from "@web/core/registry";
import { row, screenshotSteps } from "./maildesk_tour_utils";

/** Narrow screens: one pane at a time, switched by opening a message, the back button and the pane bar. */
registry.category("web_tour.tours").add("maildesk_narrow_tour", {
    url: "/odoo/maildesk",
    steps: () => [
        {
            content: "the list fills the screen; folders and reading pane are hidden",
            trigger: ".o-maildesk-Inbox[data-pane=list] .o-maildesk-MessageList-row",
        },
        {
            trigger: ".o-maildesk-Inbox-paneBar:visible",
        },
        {
            trigger: ".o-maildesk-Inbox:not(:has(.o-maildesk-FolderPane:visible)):not(:has(.o-maildesk-ReadingPane:visible))",
        },
        ...screenshotSteps("narrow_list"),
        {
            content: "opening a message shows the reading pane alone",
            trigger: row("Welcome to MailDesk"),
            run: "click",
        },
        {
            trigger: ".o-maildesk-Inbox[data-pane=message] .o-maildesk-ReadingPane:visible .o-maildesk-ReadingPane-subject:contains(Welcome to MailDesk)",
        },
        {
            trigger: ".o-maildesk-Inbox:not(:has(.o-maildesk-MessageList:visible))",
        },
        {
            trigger: ".o-maildesk-BodyFrame-frame:iframe h2:contains(Welcome!)",
        },
        ...screenshotSteps("narrow_message"),
        {
            content: "back to the list",
            trigger: ".o-maildesk-ReadingPane-back:visible",
            run: "click",
        },
        {
            trigger: ".o-maildesk-Inbox[data-pane=list] .o-maildesk-MessageList:visible",
        },
        {
            content: "folders from the pane bar",
            trigger: ".o-maildesk-Inbox-paneButton:contains(Folders)",
            run: "click",
        },
        {
            trigger: ".o-maildesk-FolderPane:visible .o-maildesk-FolderPane-account:contains(Support) .o-maildesk-FolderNode-row:contains(Inbox)",
            run: "click",
        },
        {
            content: "choosing a folder shows its list",
            trigger: ".o-maildesk-Inbox[data-pane=list] .o-maildesk-MessageList-title:contains(Inbox · Support)",
        },
    ],
});
