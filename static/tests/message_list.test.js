import { describe, expect, test } from "@odoo/hoot";
import { click, fill, press, queryAll, queryOne, scroll, waitFor, waitUntil } from "@odoo/hoot-dom";
import { animationFrame } from "@odoo/hoot-mock";
import { MockServer, onRpc } from "@web/../tests/web_test_helpers";
import { defineMaildeskModels, openInbox, seedMailbox } from "./maildesk_test_helpers";

describe.current.tags("desktop");
defineMaildeskModels();

test("quick filters narrow the list and combine; incoming and outgoing exclude each other", async () => {
    await seedMailbox({ count: 10 });
    await openInbox();
    expect(".o-maildesk-MessageList-row").toHaveCount(10);
    await click(".o-maildesk-Toolbar-filter[data-filter='unread']");
    await animationFrame();
    expect(".o-maildesk-MessageList-row").toHaveCount(4); // 0, 3, 6, 9
    expect(".o-maildesk-Toolbar-filter[data-filter='unread']").toHaveClass("active");
    await click(".o-maildesk-Toolbar-filter[data-filter='flagged']");
    await animationFrame();
    expect(".o-maildesk-MessageList-row").toHaveCount(1); // 0
    await click(".o-maildesk-Toolbar-filter[data-filter='unread']");
    await click(".o-maildesk-Toolbar-filter[data-filter='flagged']");
    await click(".o-maildesk-Toolbar-filter[data-filter='attachments']");
    await animationFrame();
    expect(".o-maildesk-MessageList-row").toHaveCount(3); // 0, 4, 8
    expect(".o-maildesk-MessageList-clip").toHaveCount(3);
    await click(".o-maildesk-Toolbar-filter[data-filter='attachments']");
    await click(".o-maildesk-Toolbar-filter[data-filter='incoming']");
    await click(".o-maildesk-Toolbar-filter[data-filter='outgoing']");
    await animationFrame();
    expect(".o-maildesk-Toolbar-filter.active").toHaveCount(1);
    expect(".o-maildesk-Toolbar-filter[data-filter='outgoing']").toHaveClass("active");
    expect(".o-maildesk-MessageList-empty").toHaveText(/No message matches these filters/);
});

test("search sends the query string; the advanced panel writes from:/subject:/since: tokens", async () => {
    await seedMailbox({ count: 6 });
    onRpc("maildesk.inbox", "maildesk_list", ({ kwargs }) => {
        expect.step(kwargs.search);
    });
    await openInbox();
    expect.verifySteps([""]);
    await click(".o-maildesk-SearchBox-input");
    await fill("Message 4");
    await press("Enter");
    await animationFrame();
    expect.verifySteps(["Message 4"]);
    expect(".o-maildesk-MessageList-row").toHaveCount(1);
    await click(".o-maildesk-SearchBox-advancedToggle");
    await animationFrame();
    expect("input[name='text']").toHaveValue("Message 4");
    await click("input[name='text']");
    await fill("", { instantly: true });
    await click("input[name='from']");
    await fill("Ada Lovelace");
    await click("input[name='subject']");
    await fill("report");
    const since = queryOne("input[name='since']"); // date inputs take no keystrokes
    since.value = "2024-01-01";
    since.dispatchEvent(new Event("input"));
    await click(".o-maildesk-SearchBox-apply");
    await animationFrame();
    expect.verifySteps(['from:"Ada Lovelace" subject:report since:2024-01-01']);
    expect(".o-maildesk-SearchBox-advanced").toHaveCount(0);
    await click(".o-maildesk-SearchBox-clear");
    await animationFrame();
    expect.verifySteps([""]);
    expect(".o-maildesk-MessageList-row").toHaveCount(6);
});

test("conversation grouping shows one row per thread with its count", async () => {
    await seedMailbox({ count: 7 }); // thread-0: 0,3,6  thread-1: 1,4  thread-2: 2,5
    await openInbox();
    await click(".o-maildesk-Toolbar-grouped");
    await animationFrame();
    expect(".o-maildesk-MessageList-row").toHaveCount(3);
    expect(".o-maildesk-MessageList-count").toHaveText("3 conversations");
    expect(".o-maildesk-MessageList-row[data-index='0'] .o-maildesk-MessageList-threadCount").toHaveText("3");
    await click(".o-maildesk-Toolbar-grouped");
    await animationFrame();
    expect(".o-maildesk-MessageList-row").toHaveCount(7);
});

test("tags: shown on rows, listed in the sidebar, and a tag opens its messages", async () => {
    await seedMailbox({ count: 4 });
    const tagId = MockServer.env["maildesk.tag"].create({ name: "Customer", color: 3 });
    MockServer.env["maildesk.message"].write([2], { tag_ids: [[6, 0, [tagId]]] });
    await openInbox();
    expect(".o-maildesk-MessageList-row[data-index='1'] .o-maildesk-MessageList-tag").toHaveText("Customer");
    expect(".o-maildesk-MessageList-tag").toHaveClass("o_tag_color_3");
    await click(".o-maildesk-FolderPane-tag[data-tag-id] .o_tag");
    await animationFrame();
    expect(".o-maildesk-MessageList-row").toHaveCount(1);
    expect(".o-maildesk-MessageList-title").toHaveText("Customer");
});

test("virtualised list: 1,000 messages render a screenful and fetch pages as you scroll", async () => {
    await seedMailbox({ count: 1000 });
    onRpc("maildesk.inbox", "maildesk_list", ({ kwargs }) => {
        expect.step(`offset ${kwargs.offset} count ${kwargs.count}`);
    });
    await openInbox();
    expect.verifySteps(["offset 0 count true"]);
    expect(".o-maildesk-MessageList-count").toHaveText("1,000 messages");
    const rendered = queryAll(".o-maildesk-MessageList-row").length;
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(60);
    const scroller = queryOne(".o-maildesk-MessageList-scroller");
    expect(queryOne(".o-maildesk-MessageList-canvas").style.height).toBe(`${1000 * 76}px`);
    await scroll(scroller, { top: 600 * 76 });
    await waitFor(".o-maildesk-MessageList-row[data-index='600']", { timeout: 2000 });
    expect.verifySteps(["offset 550 count false", "offset 600 count false"]); // the total is known
    expect(".o-maildesk-MessageList-count").toHaveText("1,000 messages");
    expect(".o-maildesk-MessageList-row[data-index='600'] .o-maildesk-MessageList-subject").toHaveText("Message 600");
    expect(queryAll(".o-maildesk-MessageList-row").length).toBeLessThan(60);
});

test("reading pane actions: flag, tag, move, delete (the next message takes its place)", async () => {
    const { folders } = await seedMailbox({ count: 3 });
    MockServer.env["maildesk.tag"].create({ name: "Urgent", color: 1 });
    await openInbox();
    await click(`.o-maildesk-FolderNode[data-folder-id='${folders.inbox}'] > .o-maildesk-FolderNode-row`);
    await animationFrame();
    await click(".o-maildesk-MessageList-row[data-index='1']");
    await animationFrame();
    expect(".o-maildesk-ReadingPane-subject").toHaveText("Message 1");
    expect(".o-maildesk-MessageActions-flag").toHaveAttribute("title", "Flag (s)");
    await click(".o-maildesk-MessageActions-flag");
    await animationFrame();
    expect(MockServer.env["maildesk.message"].browse(2)[0].flag_status).toBe("flagged");
    expect(".o-maildesk-MessageActions-flag").toHaveAttribute("title", "Remove flag (s)");
    expect(".o-maildesk-MessageList-row[data-index='1'] .o-maildesk-MessageList-flag").toHaveCount(1);
    await click(".o-maildesk-MessageActions-tag");
    await animationFrame();
    await click(".o-maildesk-MessageActions-tagItem");
    await animationFrame();
    expect(MockServer.env["maildesk.message"].browse(2)[0].tag_ids).toEqual([1]);
    expect(".o-maildesk-ReadingPane-tags .o_tag").toHaveText("Urgent");
    await click(".o-maildesk-MessageActions-move");
    await animationFrame();
    expect(".o-maildesk-MessageActions-moveItem").toHaveCount(3); // Projects, Sent Items, Deleted Items
    await click(".o-maildesk-MessageActions-moveItem:contains(Projects)");
    await waitFor(".o-maildesk-ReadingPane-subject:contains(Message 2)", { timeout: 2000 });
    expect(MockServer.env["maildesk.message"].browse(2)[0].folder_id).toBe(folders.projects);
    expect(".o-maildesk-MessageList-row").toHaveCount(2);
    expect(".o-maildesk-MessageList-row--selected .o-maildesk-MessageList-subject").toHaveText("Message 2");
    await press("#");
    await waitUntil(() => queryAll(".o-maildesk-MessageList-row").length === 1, { timeout: 2000 });
    expect(".o-maildesk-ReadingPane-subject").toHaveText("Message 0"); // the last row took its place
    expect(MockServer.env["maildesk.message"].browse(3)[0].folder_id).toBe(folders.deleteditems);
    expect(".o-maildesk-MessageList-row").toHaveCount(1);
});
