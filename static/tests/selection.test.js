import { describe, expect, test } from "@odoo/hoot";
import { click, queryAll } from "@odoo/hoot-dom";
import { animationFrame } from "@odoo/hoot-mock";
import { MockServer, onRpc } from "@web/../tests/web_test_helpers";
import { defineMaildeskModels, openInbox, seedMailbox } from "./maildesk_test_helpers";

describe.current.tags("desktop");
defineMaildeskModels();

const rowAt = (index) => `.o-maildesk-MessageList-row[data-index='${index}']`;

async function clickWith(selector, keys) {
    document.querySelector(selector).dispatchEvent(new MouseEvent("click", { bubbles: true, ...keys }));
    await animationFrame();
}

test("Ctrl-click ticks without opening or marking read; Shift-click ticks the range", async () => {
    await seedMailbox({ count: 8 });
    onRpc("maildesk.inbox", "maildesk_read", () => expect.step("read"));
    await openInbox();
    await clickWith(rowAt(0), { ctrlKey: true });
    await clickWith(rowAt(3), { shiftKey: true });
    expect(".o-maildesk-MessageList-row--checked").toHaveCount(4);
    expect(".o-maildesk-SelectionBar-count").toHaveText("4 selected");
    expect(".o-maildesk-ReadingPane-empty").toHaveCount(1);
    expect(MockServer.env["maildesk.message"].browse(1)[0].is_read).toBe(false, { message: "Message 0 stays unread" });
    await clickWith(rowAt(1), { metaKey: true });
    expect(".o-maildesk-MessageList-row--checked").toHaveCount(3);
    expect.verifySteps([]);
});

test("select all means the whole list on the server; bulk move, then Undo from the toast", async () => {
    const { folders } = await seedMailbox({ count: 6 });
    onRpc("maildesk.inbox", "maildesk_selection_ids", () => expect.step("selection on the server"));
    await openInbox();
    await click(`.o-maildesk-FolderNode[data-folder-id='${folders.inbox}'] > .o-maildesk-FolderNode-row`);
    await animationFrame();
    await click(`${rowAt(0)} .o-maildesk-MessageList-checkbox`);
    await animationFrame();
    await click(".o-maildesk-SelectionBar-selectAll");
    await animationFrame();
    expect(".o-maildesk-SelectionBar-count").toHaveText("All 6 messages selected");
    await click(`${rowAt(2)} .o-maildesk-MessageList-checkbox`); // untick one: all but it
    await animationFrame();
    await click(".o-maildesk-SelectionBar-move");
    await animationFrame();
    await click(".o-maildesk-MoveMenu-item:contains(Projects)");
    await animationFrame();
    await animationFrame();
    expect.verifySteps(["selection on the server"]);
    const inProjects = () =>
        MockServer.env["maildesk.message"].search_read([["folder_id", "=", folders.projects]]).length;
    expect(inProjects()).toBe(5);
    expect(".o-maildesk-MessageList-row").toHaveCount(1);
    await click(".o_notification button:contains(Undo)");
    await animationFrame();
    await animationFrame();
    expect(inProjects()).toBe(0);
    expect(queryAll(".o-maildesk-MessageList-row").length).toBe(6);
});

test("a conversation row ticked stands for all its messages in the list: read, move, Undo", async () => {
    const { folders } = await seedMailbox({ count: 6 }); // conversations thread-0, -1, -2: two messages each
    const Message = () => MockServer.env["maildesk.message"];
    const inThread0 = () => Message().search_read([["thread_key", "=", "thread-0"]]);
    await openInbox();
    await click(".o-maildesk-Toolbar-grouped");
    await animationFrame();
    expect(".o-maildesk-MessageList-row").toHaveCount(3);
    expect(inThread0().map((m) => m.is_read)).toEqual([false, false]);
    await click(`${rowAt(0)} .o-maildesk-MessageList-checkbox`);
    await animationFrame();
    await click(".o-maildesk-SelectionBar-action[data-action='mark_read']");
    await animationFrame();
    await animationFrame();
    expect(inThread0().map((m) => m.is_read)).toEqual([true, true], { message: "not only the newest one" });
    await click(`${rowAt(0)} .o-maildesk-MessageList-checkbox`);
    await animationFrame();
    await click(".o-maildesk-SelectionBar-move");
    await animationFrame();
    await click(".o-maildesk-MoveMenu-item:contains(Projects)");
    await animationFrame();
    await animationFrame();
    expect(inThread0().map((m) => m.folder_id[0])).toEqual([folders.projects, folders.projects]);
    expect(".o_notification:contains(2 messages moved)").toHaveCount(1);
    await click(".o_notification button:contains(Undo)");
    await animationFrame();
    await animationFrame();
    expect(inThread0().map((m) => m.folder_id[0])).toEqual([folders.inbox, folders.inbox]);
});
