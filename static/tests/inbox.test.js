import { describe, expect, test } from "@odoo/hoot";
import { Component, xml } from "@odoo/owl";
import { click, press, queryAll, queryAllTexts, queryOne, waitFor, waitUntil } from "@odoo/hoot-dom";
import { advanceTime, animationFrame } from "@odoo/hoot-mock";
import { getService, MockServer, onRpc, serverState } from "@web/../tests/web_test_helpers";
import { router } from "@web/core/browser/router";
import { registry } from "@web/core/registry";
import { defineMaildeskModels, openInbox, seedMailbox } from "./maildesk_test_helpers";

describe.current.tags("desktop");
defineMaildeskModels();

test("empty state walks a new user to Settings → Mailbox Accounts → Create", async () => {
    await openInbox();
    expect(".o-maildesk-EmptyState").toHaveCount(1);
    expect(".o-maildesk-EmptyState").toHaveText(/Settings.*Mailbox Accounts.*Create/s);
    expect(".o-maildesk-EmptyState-create").toHaveCount(1);
    expect(".o-maildesk-MessageList").toHaveCount(0);
});

test("three panes: folder tree with unread badges, list, reading pane", async () => {
    await seedMailbox({ count: 6 });
    await openInbox();
    expect(".o-maildesk-FolderPane").toHaveCount(1);
    expect(".o-maildesk-MessageList").toHaveCount(1);
    expect(".o-maildesk-ReadingPane").toHaveCount(1);
    // Inbox first, Projects nested under it, and unread counts (messages 0 and 3 are unread)
    expect(queryAllTexts(".o-maildesk-FolderNode-name")).toEqual(["Inbox", "Projects", "Sent Items", "Deleted Items"]);
    expect(".o-maildesk-FolderNode[data-folder-id] .o-maildesk-FolderNode .o-maildesk-FolderNode-name").toHaveText("Projects");
    expect(".o-maildesk-FolderPane-all .o-maildesk-FolderPane-badge").toHaveText("2");
    expect(".o-maildesk-FolderNode-row:first .o-maildesk-FolderPane-badge").toHaveText("2");
    expect(".o-maildesk-MessageList-row").toHaveCount(6);
    expect(".o-maildesk-MessageList-row--unread").toHaveCount(2);
    expect(".o-maildesk-MessageList-row:first .o-maildesk-MessageList-subject").toHaveText("Message 0");
    expect(".o-maildesk-MessageList-count").toHaveText("6 messages");
    expect(".o-maildesk-ReadingPane-empty").toHaveCount(1);
});

test("account status: authorization needed shows an Authorize button that calls the account", async () => {
    await seedMailbox({ state: "auth_invalid" });
    onRpc("maildesk.account", "action_authorize", ({ args }) => {
        expect.step(`authorize ${args[0]}`);
    });
    await openInbox();
    expect(".o-maildesk-AccountStatus[data-status='auth_invalid']").toHaveCount(1);
    await click(".o-maildesk-AccountStatus-authorize");
    await animationFrame();
    expect.verifySteps(["authorize 1"]);
});

test("backfilling shows a progress bar", async () => {
    const { folders } = await seedMailbox();
    MockServer.env["maildesk.folder"].write([folders.inbox], { sync_state: "backfilling" });
    await openInbox();
    expect(".o-maildesk-AccountStatus[data-status='backfilling'] .progress-bar").toHaveCount(1);
    expect(".o-maildesk-AccountStatus .progress-bar").toHaveAttribute("style", "width: 40%");
});

test("switching folders lists that folder and updates the URL", async () => {
    const { folders } = await seedMailbox({ count: 3 });
    MockServer.env["maildesk.message"].create({
        account_id: 1, folder_id: folders.projects, subject: "Project kickoff", received_at: "2024-02-01 10:00:00",
    });
    await openInbox();
    expect(".o-maildesk-MessageList-row").toHaveCount(4);
    await click(`.o-maildesk-FolderNode[data-folder-id='${folders.projects}'] > .o-maildesk-FolderNode-row`);
    await animationFrame();
    expect(".o-maildesk-MessageList-row").toHaveCount(1);
    expect(".o-maildesk-MessageList-title").toHaveText("Projects · Sales");
    expect(".o-maildesk-FolderPane-item--active .o-maildesk-FolderNode-name").toHaveText("Projects");
    await advanceTime(1000); // router pushState is debounced
    expect(router.current.folder_id).toBe(folders.projects);
});

test("opening a message shows a spinner, then the body in a sandboxed frame; it becomes read", async () => {
    await seedMailbox({ count: 4 });
    let release;
    onRpc("maildesk.inbox", "maildesk_read", async () => {
        await new Promise((resolve) => (release = resolve));
    });
    await openInbox();
    expect(".o-maildesk-FolderPane-all .o-maildesk-FolderPane-badge").toHaveText("2");
    await click(".o-maildesk-MessageList-row[data-index='0']");
    await animationFrame();
    expect(".o-maildesk-ReadingPane-loading").toHaveCount(1);
    release();
    await animationFrame();
    await animationFrame();
    expect(".o-maildesk-ReadingPane-loading").toHaveCount(0);
    expect(".o-maildesk-ReadingPane-subject").toHaveText("Message 0");
    const frame = queryOne(".o-maildesk-BodyFrame-frame");
    expect(frame).toHaveAttribute("sandbox", "allow-same-origin");
    expect(frame.getAttribute("srcdoc")).toInclude("<p>Body of message 0</p>");
    expect(frame.getAttribute("srcdoc")).toInclude("Content-Security-Policy");
    expect(".o-maildesk-MessageList-row[data-index='0']").not.toHaveClass("o-maildesk-MessageList-row--unread");
    expect(".o-maildesk-FolderPane-all .o-maildesk-FolderPane-badge").toHaveText("1");
    expect(".o-maildesk-ReadingPane-thread").toHaveCount(1); // thread-0: messages 0 and 3
});

test("live update: a bus notification refreshes counts and the open list without reload", async () => {
    const { accountId, folders } = await seedMailbox({ count: 2 });
    await openInbox();
    expect(".o-maildesk-MessageList-row").toHaveCount(2);
    MockServer.env["maildesk.message"].create({
        account_id: accountId, folder_id: folders.inbox, subject: "Fresh from sync",
        received_at: "2024-03-01 09:00:00", is_read: false,
    });
    const [partner] = MockServer.env["res.partner"].read(serverState.partnerId);
    MockServer.env["bus.bus"]._sendone(partner, "maildesk/changed", {
        account_ids: [accountId], folder_ids: [folders.inbox],
    });
    await waitUntil(() => queryAll(".o-maildesk-MessageList-row").length === 3, { timeout: 3000 });
    expect(".o-maildesk-MessageList-row").toHaveCount(3);
    expect(".o-maildesk-MessageList-row[data-index='0'] .o-maildesk-MessageList-subject").toHaveText("Fresh from sync");
    expect(".o-maildesk-FolderPane-all .o-maildesk-FolderPane-badge").toHaveText("2");
});

test("keyboard: j/k move through messages, u toggles read, s flags, / focuses search", async () => {
    await seedMailbox({ count: 4 });
    await openInbox();
    await press("j");
    await animationFrame();
    expect(".o-maildesk-ReadingPane-subject").toHaveText("Message 0");
    await press("j");
    await animationFrame();
    expect(".o-maildesk-ReadingPane-subject").toHaveText("Message 1");
    await press("k");
    await animationFrame();
    expect(".o-maildesk-ReadingPane-subject").toHaveText("Message 0");
    expect(".o-maildesk-MessageList-row--selected").toHaveAttribute("data-index", "0");
    await press("u");
    await animationFrame();
    expect(".o-maildesk-MessageList-row[data-index='0']").toHaveClass("o-maildesk-MessageList-row--unread");
    expect(MockServer.env["maildesk.message"].browse(1)[0].is_read).toBe(false);
    await press("s");
    await animationFrame();
    const flag = MockServer.env["maildesk.message"].browse(1)[0].flag_status;
    expect(flag).toBe("notFlagged"); // message 0 was flagged
    await press("/");
    expect(".o-maildesk-SearchBox-input").toBeFocused();
    await press("j"); // typing in the search box is not a shortcut
    await animationFrame();
    expect(".o-maildesk-ReadingPane-subject").toHaveText("Message 0");
});

test("reply / reply all / forward / compose call the server and run the composer action", async () => {
    await seedMailbox({ count: 2 });
    for (const method of ["action_reply", "action_reply_all", "action_forward", "action_compose"]) {
        onRpc("maildesk.message", method, ({ args, kwargs }) => {
            expect.step(`${method} ${JSON.stringify(args)} ${kwargs.context?.default_account_id || ""}`);
            return { type: "ir.actions.client", tag: "display_notification", params: { message: method } };
        });
    }
    await openInbox();
    await click(".o-maildesk-MessageList-row[data-index='1']");
    await animationFrame();
    await press("r");
    await animationFrame();
    await click(".o-maildesk-MessageActions-replyAll");
    await animationFrame();
    await press("f");
    await animationFrame();
    await press("c");
    await animationFrame();
    expect.verifySteps([
        "action_reply [[2]] ",
        "action_reply_all [[2]] ",
        "action_forward [[2]] ",
        "action_compose [[]] 1",
    ]);
    expect(".o_notification").toHaveCount(4);
});

test("Sync fetches new mail for the accounts in view, not for those waiting for authorization (a suspended one says so)", async () => {
    await seedMailbox({ count: 1 });
    await seedMailbox({ count: 1, name: "Support", state: "auth_invalid" });
    onRpc("maildesk.account", "action_sync_now", ({ args }) => {
        expect.step(`sync ${args[0]}`);
        return { type: "ir.actions.client", tag: "display_notification", params: { message: "Synced" } };
    });
    await openInbox();
    await click(".o-maildesk-Toolbar-sync");
    await waitUntil(() => !queryOne(".o-maildesk-Toolbar-sync").disabled);
    expect.verifySteps(["sync 1"]);
    await waitFor(".o_notification:contains(Synced)");
    await waitFor(".o_notification:contains(Support: sync suspended)");
    expect(".o_notification:contains(Support: sync suspended)").toHaveText(/Authorize Outlook/);
    expect(".o-maildesk-FolderPane-account[data-account-id='2'] .o-maildesk-AccountStatus-authorize").toHaveCount(1);
});

test("opened for one account (smart button), back through the breadcrumbs: the view is kept; the menu opens All mailboxes", async () => {
    const { folders } = await seedMailbox({ count: 2 });
    await openInbox();
    await click(`.o-maildesk-FolderNode[data-folder-id='${folders.projects}'] > .o-maildesk-FolderNode-row`);
    await animationFrame();
    expect(".o-maildesk-MessageList-title").toHaveText("Projects · Sales");
    await getService("action").doAction({ type: "ir.actions.client", tag: "maildesk.inbox", params: { account_id: 1 } });
    await animationFrame();
    expect(".o-maildesk-MessageList-title").toHaveText("Sales");
    expect(".o-maildesk-MessageList-row").toHaveCount(2);
    const inbox = getService("action").currentController.jsId;
    class OtherAction extends Component {
        static template = xml`<div class="o_maildesk_test_other"/>`;
        static props = ["*"];
    }
    registry.category("actions").add("maildesk_test.other", OtherAction, { force: true });
    await getService("action").doAction({ type: "ir.actions.client", tag: "maildesk_test.other" });
    await animationFrame();
    expect(".o_maildesk_test_other").toHaveCount(1);
    await animationFrame();
    await getService("action").restore(inbox);
    await animationFrame();
    expect(".o-maildesk-MessageList-title").toHaveText("Sales");
    await getService("action").doAction({ type: "ir.actions.client", tag: "maildesk.inbox" }, { clearBreadcrumbs: true });
    await animationFrame();
    expect(".o-maildesk-MessageList-title").toHaveText("All mailboxes");
});
