import { registry } from "@web/core/registry";
import { screenshotSteps } from "./maildesk_tour_utils";

const SALES = ".o-maildesk-FolderPane-account:contains(Sales)";
const rowAt = (index) => `.o-maildesk-MessageList-row[data-index='${index}']`;
const checked = (index) => `${rowAt(index)}.o-maildesk-MessageList-row--checked`;

/** A click with modifier keys (a tour's "click" has none): what Ctrl/Cmd- and Shift-click send. */
function clickWith(selector, keys) {
    return () => {
        document.querySelector(selector).dispatchEvent(new MouseEvent("click", { bubbles: true, ...keys }));
    };
}

/**
 * The browser's HTML5 drag and drop sequence (dragstart, dragenter, dragover, drop, dragend) with one DataTransfer,
 * as Chrome sends it: the tour helpers' drag (hoot) sends non-cancelable dragover events, so no drop would follow.
 */
function dragAndDrop(sourceSelector, accountName, folderName) {
    const source = document.querySelector(sourceSelector);
    const account = [...document.querySelectorAll(".o-maildesk-FolderPane-account")].find((el) =>
        el.querySelector(".o-maildesk-FolderPane-accountName").textContent.includes(accountName)
    );
    const target = [...account.querySelectorAll(".o-maildesk-FolderNode-row")].find(
        (el) => el.querySelector(".o-maildesk-FolderNode-name").textContent.trim() === folderName
    );
    const dataTransfer = new DataTransfer();
    const fire = (el, type) =>
        el.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer }));
    fire(source, "dragstart");
    fire(target, "dragenter");
    if (fire(target, "dragover")) {
        throw new Error("the folder did not accept the drop (dragover not prevented)");
    }
    fire(target, "drop");
    fire(source, "dragend");
}

/**
 * Selection as in a desktop mail client, over seeded data (tests/test_inbox_selection_tour.py): Ctrl-click ticks
 * without opening, Shift-click ticks a range, bulk move to a folder MailDesk does not sync, Undo, the unsynced
 * folder opened from the greyed tree, and drag and drop onto a folder.
 */
registry.category("web_tour.tours").add("maildesk_selection_tour", {
    url: "/odoo/maildesk",
    steps: () => [
        {
            content: "Archive is listed though it is not synced: greyed",
            trigger: `${SALES} .o-maildesk-FolderNode-row--unsynced:contains(Archive)`,
        },
        {
            content: "open the Sales Inbox",
            trigger: `${SALES} .o-maildesk-FolderNode-row:contains(Inbox)`,
            run: "click",
        },
        { trigger: `.o-maildesk-MessageList-title:contains(Inbox · Sales) ~ .o-maildesk-MessageList-count` },
        { trigger: rowAt(4) },
        {
            content: "Ctrl-click ticks the second row",
            trigger: rowAt(1),
            run: clickWith(rowAt(1), { ctrlKey: true }),
        },
        {
            content: "ticked, not opened: the reading pane stays empty",
            trigger: `${checked(1)}`,
            run() {
                if (!document.querySelector(".o-maildesk-ReadingPane-empty")) {
                    throw new Error("Ctrl-click opened the message");
                }
            },
        },
        {
            content: "Shift-click on the fifth row ticks the range",
            trigger: rowAt(4),
            run: clickWith(rowAt(4), { shiftKey: true }),
        },
        {
            content: "four rows are ticked",
            trigger: `${checked(4)}`,
        },
        {
            trigger: ".o-maildesk-SelectionBar-count:contains(4 selected)",
            run() {
                if (!document.querySelector(".o-maildesk-ReadingPane-empty")) {
                    throw new Error("Shift-click opened a message");
                }
            },
        },
        {
            content: "Move offers every folder",
            trigger: ".o-maildesk-SelectionBar-move",
            run: "click",
        },
        {
            content: "search the folders",
            trigger: ".o-maildesk-MoveMenu-search",
            run: "edit arch",
        },
        {
            content: "move to Archive (not synced)",
            trigger: ".o-maildesk-MoveMenu-item:contains(Archive):contains(not synced)",
            run: "click",
        },
        {
            content: "the toast offers Undo",
            trigger: ".o_notification:contains(4 messages moved) button:contains(Undo)",
            run: "click",
        },
        {
            content: "undone: put back",
            trigger: ".o_notification:contains(4 messages put back)",
        },
        {
            content: "the rows are back (and nothing is ticked)",
            trigger: `${rowAt(4)}:not(.o-maildesk-MessageList-row--checked)`,
        },
        {
            content: "x ticks the open message: open the first row",
            trigger: rowAt(0),
            run: "click",
        },
        { trigger: ".o-maildesk-ReadingPane-header" },
        {
            trigger: "body",
            run: "press x",
        },
        {
            trigger: ".o-maildesk-SelectionBar-count:contains(1 selected)",
        },
        {
            content: "tick the second row too, then move both to Archive",
            trigger: `${rowAt(1)} .o-maildesk-MessageList-checkbox`,
            run: "click",
        },
        { trigger: ".o-maildesk-SelectionBar-count:contains(2 selected)" },
        { trigger: ".o-maildesk-SelectionBar-move", run: "click" },
        { trigger: ".o-maildesk-MoveMenu-item:contains(Archive)", run: "click" },
        { trigger: ".o_notification:contains(2 messages moved)" },
        {
            content: "open the unsynced Archive from the tree",
            trigger: `${SALES} .o-maildesk-FolderNode-row:contains(Archive)`,
            run: "click",
        },
        {
            content: "its moved messages are there, with the one-click Sync this folder",
            trigger: ".o-maildesk-MessageList-unsynced .o-maildesk-MessageList-syncFolder",
        },
        { trigger: `.o-maildesk-MessageList-title:contains(Archive) ~ .o-maildesk-MessageList-count:contains(2 messages)` },
        {
            content: "back to the Inbox",
            trigger: `${SALES} .o-maildesk-FolderNode-row:contains(Inbox)`,
            run: "click",
        },
        { trigger: `.o-maildesk-MessageList-title:contains(Inbox · Sales) ~ .o-maildesk-MessageList-count:contains(28 messages)` },
        {
            content: "drag the first row onto Projects",
            trigger: rowAt(0),
            run: () => dragAndDrop(rowAt(0), "Sales", "Projects"),
        },
        {
            content: "dropped: moved",
            trigger: ".o_notification:contains(Message moved)",
        },
        {
            content: "Log to record on a selection: tick the first two rows",
            trigger: `${rowAt(0)} .o-maildesk-MessageList-checkbox`,
            run: "click",
        },
        { trigger: `${rowAt(1)} .o-maildesk-MessageList-checkbox`, run: "click" },
        {
            trigger: ".o-maildesk-SelectionBar-count:contains(2 selected)",
            run() {
                // the toasts of the moves above would hide the picture
                document.querySelectorAll(".o_notification_close").forEach((button) => button.click());
            },
        },
        { trigger: "body:not(:has(.o_notification))" },
        ...screenshotSteps("selection"),
        { trigger: ".o-maildesk-SelectionBar-log", run: "click" },
        {
            content: "the record is chosen once for the whole selection",
            trigger: ".modal .o_field_widget[name=message_count]:contains(2)",
        },
        { trigger: ".modal .o_field_reference select", run: "select res.partner" },
        { trigger: ".modal .o_field_reference input", run: "edit Tour Customer" },
        { trigger: ".o-autocomplete--dropdown-item:contains(Tour Customer)", run: "click" },
        { trigger: ".modal button[name=action_log]", run: "click" },
        {
            content: "both logged, with progress, then the toast",
            trigger: ".o_notification:contains(2 messages logged on Tour Customer)",
        },
    ],
});
