import { markRaw, reactive } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { router } from "@web/core/browser/router";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { actOnOpenMessage, bulkOnSelection, chooseLogTarget, selectRange } from "./bulk_actions";
import { MessagePages } from "./message_pages";
import { Selection } from "./selection";

export const QUICK_FILTERS = ["unread", "flagged", "attachments", "incoming", "outgoing"];
const BUS_DEBOUNCE = 250;

/**
 * The inbox state: folder tree, current view, filters, the paged message list, the open message.
 * Components read it through `useState(useService("maildesk.store"))`. The server calls: the inbox's reads
 * on `maildesk.inbox` (models/maildesk_inbox.py) and the message actions on `maildesk.message`.
 */
export class MaildeskStore {
    constructor(env, services) {
        this.env = env;
        this.services = markRaw(services);
        this.tree = { loaded: false, accounts: [], allUnread: 0, tags: [], isManager: false };
        this.view = { type: "all" };
        this.filters = [];
        this.search = "";
        this.grouped = false;
        this.pages = new MessagePages((offset, limit, count) => this.fetchPage(offset, limit, count));
        this.list = this.pages.state;
        this.selectedId = false;
        this.message = { id: false, loading: false, data: null, error: "" };
        this.pane = "list"; // narrow screens show one pane: "folders" | "list" | "message"
        this.readSeq = 0;
        this.busTimeout = null;
        this.pendingChange = { account_ids: new Set(), folder_ids: new Set() };
        this.started = false;
        this.syncing = false;
        this.selection = new Selection();
        this.bulkProgress = null; // {action, label, done, total} while a bulk action runs
        this.dragIds = null; // the messages being dragged onto a folder
    }

    // ------------------------------------------------------------- loading
    /**
     * Called by the client action: tree, then the view asked for (URL, smart button) or All mailboxes.
     * Coming back through the breadcrumbs keeps the view, filters and open message, refreshed; the menu opens All
     * mailboxes (`fresh`: an action not mounted before).
     */
    async start({ view, messageId, fresh = false } = {}) {
        this.subscribeBus();
        if (!this.started) {
            this.started = true;
            await this.loadTree();
            this.view = view || { type: "all" };
            await this.pages.reset();
        } else if (view || fresh) {
            // a view asked for (URL, smart button), or the menu: All mailboxes
            await Promise.all([this.loadTree(), this.selectView(view || { type: "all" })]);
        } else {
            await this.refresh();
        }
        if (messageId) {
            await this.openMessage(messageId);
        }
    }

    async loadTree() {
        const tree = await this.callInbox("maildesk_folder_tree", []);
        Object.assign(this.tree, {
            loaded: true,
            accounts: tree.accounts,
            allUnread: tree.all_unread,
            tags: tree.tags,
            isManager: tree.is_manager,
        });
    }

    fetchPage(offset, limit, count = true) {
        return this.callInbox("maildesk_list", [], {
            view: this.view,
            filters: this.filters,
            search: this.search,
            grouped: this.grouped,
            offset,
            limit,
            count,
        });
    }

    /** folder tree, list pages, reading pane */
    callInbox(method, args, kwargs = {}) {
        return this.services.orm.call("maildesk.inbox", method, args, kwargs);
    }

    /** a message action (`args[0]`: the message ids) */
    callMessages(method, args, kwargs = {}) {
        return this.services.orm.call("maildesk.message", method, args, kwargs);
    }

    // ------------------------------------------------------------- navigation
    selectView(view) {
        this.view = view;
        this.selection.clear();
        this.search = "";
        this.closeMessage();
        this.pane = "list";
        this.pushState();
        return this.pages.reset();
    }

    toggleFilter(name) {
        this.selection.clear();
        const filters = new Set(this.filters);
        if (filters.has(name)) {
            filters.delete(name);
        } else {
            filters.add(name);
            // incoming and outgoing exclude each other
            filters.delete({ incoming: "outgoing", outgoing: "incoming" }[name]);
        }
        this.filters = QUICK_FILTERS.filter((f) => filters.has(f));
        return this.pages.reset();
    }

    setSearch(search) {
        this.selection.clear();
        this.search = search.trim();
        return this.pages.reset();
    }

    toggleGrouped() {
        this.selection.clear();
        this.grouped = !this.grouped;
        return this.pages.reset();
    }

    /** Move the selection by `delta` rows and open it (j / k). */
    async selectRelative(delta) {
        const index = this.selectedId ? this.pages.indexOf(this.selectedId) : -1;
        const next = Math.min(Math.max(index + delta, 0), this.list.total - 1);
        await this.pages.ensureRange(next, next);
        const row = this.pages.row(next);
        if (row && row.id !== this.selectedId) {
            await this.openMessage(row.id);
        }
    }

    async openMessage(id) {
        const seq = ++this.readSeq;
        this.selectedId = id;
        this.pane = "message";
        Object.assign(this.message, { id, loading: true, data: null, error: "" });
        this.pushState();
        let data;
        try {
            // the pane shows what is stored at once; marking read (a round trip to Outlook) follows below
            data = await this.callInbox("maildesk_read", [id], { mark_read: false });
        } catch (error) {
            // shown in the reading pane (e.g. a message deleted meanwhile), not as an error dialog
            if (seq === this.readSeq) {
                Object.assign(this.message, { loading: false, error: error.data?.message || String(error) });
            }
            return;
        }
        if (seq !== this.readSeq) {
            return;
        }
        Object.assign(this.message, { loading: false, data });
        if (!data.is_read) {
            await this.markOpenedRead(id);
        }
    }

    /** Reading a message marks it read, after it is shown: Outlook's confirmation never delays the pane. */
    async markOpenedRead(id) {
        if (this.message.id === id && this.message.data) {
            this.message.data.is_read = true; // through the reactive store: the pane's buttons follow
        }
        this.pages.patchRow(id, { is_read: true, thread_unread: 0 });
        const result = await this.callInbox("maildesk_mark_opened", [id]);
        if (result) {
            // Outlook refused: the message is unread again, and the notification says why
            await this.services.action.doAction(result);
            await this.refresh();
            return;
        }
        this.loadTree();
    }

    closeMessage() {
        this.readSeq++;
        this.selectedId = false;
        Object.assign(this.message, { id: false, loading: false, data: null, error: "" });
        this.pane = "list";
    }

    pushState() {
        const state = { folder_id: undefined, account_id: undefined, tag_id: undefined };
        if (this.view.type !== "all") {
            state[`${this.view.type}_id`] = this.view.id;
        }
        state.message_id = this.selectedId || undefined;
        router.pushState(state);
    }

    // ------------------------------------------------------------- actions
    /** Run a message action on the open message, then refresh what it changed. */
    async act(method, args = [], { optimistic } = {}) {
        const id = this.message.id;
        if (!id) {
            return;
        }
        if (optimistic) {
            this.pages.patchRow(id, optimistic);
            if (this.message.data) {
                Object.assign(this.message.data, optimistic);
            }
        }
        const result = await this.callMessages(method, [[id], ...args]);
        if (result && typeof result === "object" && result.type) {
            await this.services.action.doAction(result, { onClose: () => this.refresh() });
        }
        await this.refresh();
        return result;
    }

    markRead(isRead) {
        return this.act(isRead ? "action_mark_read" : "action_mark_unread", [], {
            optimistic: { is_read: isRead },
        });
    }

    toggleFlag() {
        const isFlagged = !this.message.data?.is_flagged;
        return this.act("action_toggle_flag", [], { optimistic: { is_flagged: isFlagged } });
    }

    setTags(tagIds) {
        return this.act("action_set_tags", [tagIds], { optimistic: { tag_ids: tagIds } });
    }

    /** Move the open message (Undo in the toast). */
    moveTo(folderId) {
        return actOnOpenMessage(this, "move", folderId);
    }

    /** Delete the open message: to Deleted Items (Undo in the toast), or for good from there. */
    remove() {
        return actOnOpenMessage(this, "delete");
    }

    // ------------------------------------------------------------- selection and bulk actions
    /** A click on a row: Ctrl/Cmd ticks it, Shift ticks the range from the last row clicked, else it opens. */
    clickRow(row, index, ev) {
        if (ev.ctrlKey || ev.metaKey) {
            this.selection.toggle(row.id, index);
            return;
        }
        if (ev.shiftKey) {
            return this.selectRangeTo(index);
        }
        this.selection.state.anchor = index;
        return this.openMessage(row.id);
    }

    selectRangeTo(index) {
        return selectRange(this, index);
    }

    /** `x`: tick or untick the open (or last opened) message. */
    toggleCurrent() {
        if (this.selectedId) {
            this.selection.toggle(this.selectedId, this.pages.indexOf(this.selectedId));
        }
    }

    get selectionCount() {
        return this.selection.count(this.list.total);
    }

    /** Run `action` on the selection (see services/bulk_actions.js); the toast offers Undo for move / delete. */
    bulk(action, value = null) {
        if (this.bulkProgress || !this.selectionCount) {
            return;
        }
        return bulkOnSelection(this, action, value);
    }

    /** "Log to record" on the selection: the record chosen once, then every selected message logged on it. */
    async logSelection() {
        if (this.bulkProgress || !this.selectionCount) {
            return;
        }
        const target = await chooseLogTarget(this);
        if (target) {
            return bulkOnSelection(this, "log", [target.model, target.id], null, target);
        }
    }

    /** Dragging a row carries the selection when the row is ticked, else the row alone. */
    startDrag(row) {
        this.dragIds = this.selection.isChecked(row.id) && !this.selection.state.all
            ? this.selection.checkedIds()
            : [row.id];
    }

    dropOnFolder(folderId) {
        const ids = this.dragIds;
        this.dragIds = null;
        return ids?.length && bulkOnSelection(this, "move", folderId, ids);
    }

    /** "Sync this folder": an unsynced folder of the tree starts syncing now. */
    async syncFolder(folderId) {
        this.syncing = true;
        try {
            const result = await this.callInbox("maildesk_sync_folder", [folderId]);
            if (result && typeof result === "object" && result.type) {
                await this.services.action.doAction(result);
            }
        } finally {
            this.syncing = false;
        }
        await this.refresh();
    }

    /** Run `fn` (a move or delete); if the message left the view, open the next one in its place. */
    async leaveOpenMessage(fn) {
        const id = this.message.id;
        const index = this.pages.indexOf(id);
        await fn();
        if (this.pages.indexOf(id) >= 0) {
            return this.openMessage(id); // still in this view (e.g. moved within All mailboxes)
        }
        await this.pages.ensureRange(index, index);
        const next = this.pages.row(Math.min(index, this.list.total - 1));
        return next ? this.openMessage(next.id) : this.closeMessage();
    }

    /** compose / reply / reply all / forward: the server returns the composer's window action. */
    async compose(kind) {
        if (kind === "compose") {
            const accountId = this.currentAccountId();
            const action = await this.callMessages("action_compose", [[]], {
                context: accountId ? { default_account_id: accountId } : {},
            });
            return this.services.action.doAction(action, { onClose: () => this.refresh() });
        }
        return this.act(`action_${kind}`);
    }

    currentAccountId() {
        if (this.message.data) {
            return this.message.data.account_id;
        }
        if (this.view.type === "account") {
            return this.view.id;
        }
        if (this.view.type === "folder") {
            return this.folderById(this.view.id)?.accountId;
        }
        return this.tree.accounts[0]?.id;
    }

    /** The server opens its "Log to record" chooser (a window action); refreshed when it closes. */
    logToRecord() {
        return this.act("action_log_to_record");
    }

    /** Download the open message's attachments from Outlook, then show them. */
    async downloadAttachments() {
        const id = this.message.id;
        await this.callMessages("action_download_attachments", [[id]]);
        if (id === this.message.id) {
            const data = await this.callInbox("maildesk_read", [id], { mark_read: false });
            if (id === this.message.id) {
                this.message.data = data;
            }
        }
    }

    async runAccountAction(accountId, method) {
        const result = await this.services.orm.call("maildesk.account", method, [[accountId]]);
        if (result && typeof result === "object" && result.type) {
            await this.services.action.doAction(result);
        }
        await this.loadTree();
    }

    /**
     * Send/Receive: a sync round now for the accounts in view (each answers with a notification), then
     * refresh. Accounts that need authorization are left out (their status shows the Authorize button); a
     * suspended one says so (the words of its status), so the click never goes unanswered.
     */
    async syncNow() {
        const inView = this.view.type === "all" || this.view.type === "tag"
            ? this.tree.accounts
            : this.tree.accounts.filter((a) => a.id === this.currentAccountId());
        const accounts = inView.filter((a) => !["not_authorized", "auth_invalid"].includes(a.state));
        for (const account of inView.filter((a) => a.state === "auth_invalid")) {
            this.services.notification.add(
                account.status.message ||
                    _t('Microsoft no longer accepts this mailbox\'s sign-in, so sync and sending are suspended: click "Authorize Outlook" to sign in again.'),
                { type: "warning", title: _t("%s: sync suspended", account.name), sticky: true }
            );
        }
        this.syncing = true;
        try {
            for (const account of accounts) {
                await this.runAccountAction(account.id, "action_sync_now");
            }
        } finally {
            this.syncing = false;
        }
        await this.refresh();
    }

    /** Refresh counts and the page on screen (after an action, or on a bus notification). */
    async refresh() {
        await Promise.all([this.loadTree(), this.pages.refresh()]);
    }

    notify(message, type = "info") {
        this.services.notification.add(message, { type });
    }

    // ------------------------------------------------------------- live updates
    subscribeBus() {
        if (this.busSubscribed || !this.services.bus_service) {
            return;
        }
        this.busSubscribed = true;
        this.services.bus_service.subscribe("maildesk/changed", (payload) => this.onChanged(payload));
        this.services.bus_service.start();
    }

    /** Coalesce bursts of notifications (a sync stores pages of 1000) into one refresh. */
    onChanged(payload) {
        payload.account_ids?.forEach((id) => this.pendingChange.account_ids.add(id));
        payload.folder_ids?.forEach((id) => this.pendingChange.folder_ids.add(id));
        browser.clearTimeout(this.busTimeout);
        this.busTimeout = browser.setTimeout(() => this.applyChanges(), BUS_DEBOUNCE);
    }

    async applyChanges() {
        const change = this.pendingChange;
        this.pendingChange = { account_ids: new Set(), folder_ids: new Set() };
        await this.loadTree();
        if (this.viewAffected(change)) {
            await this.pages.refresh();
        }
    }

    viewAffected({ account_ids, folder_ids }) {
        if (this.view.type === "folder") {
            return folder_ids.has(this.view.id) || (!folder_ids.size && account_ids.has(this.folderById(this.view.id)?.accountId));
        }
        if (this.view.type === "account") {
            return account_ids.has(this.view.id);
        }
        return true;
    }

    // ------------------------------------------------------------- lookups
    folderById(id) {
        for (const account of this.tree.accounts) {
            const stack = [...account.folders];
            while (stack.length) {
                const folder = stack.pop();
                if (folder.id === id) {
                    return { ...folder, accountId: account.id, accountName: account.name };
                }
                stack.push(...folder.children);
            }
        }
        return null;
    }

    /** Flat list of an account's folders (every Outlook folder, synced or not), with depth and path, for "Move to". */
    accountFolders(accountId) {
        const account = this.tree.accounts.find((a) => a.id === accountId);
        const result = [];
        const walk = (folders, depth, path) => {
            for (const folder of folders) {
                const folderPath = path ? `${path} / ${folder.name}` : folder.name;
                result.push({
                    id: folder.id,
                    name: folder.name,
                    depth,
                    path: folderPath,
                    synced: folder.synced !== false,
                    accountId,
                    accountName: account.name,
                });
                walk(folder.children, depth + 1, folderPath);
            }
        };
        walk(account?.folders || [], 0, "");
        return result;
    }

    /** The accounts a bulk move may target: the one in view, else every account. */
    get moveAccounts() {
        if (this.view.type === "account" || this.view.type === "folder") {
            const accountId = this.currentAccountId();
            return this.tree.accounts.filter((a) => a.id === accountId);
        }
        return this.tree.accounts;
    }

    tagById(id) {
        return this.tree.tags.find((tag) => tag.id === id);
    }

    get viewTitle() {
        if (this.view.type === "folder") {
            const folder = this.folderById(this.view.id);
            return folder ? `${folder.name} · ${folder.accountName}` : "";
        }
        if (this.view.type === "account") {
            return this.tree.accounts.find((a) => a.id === this.view.id)?.name || "";
        }
        if (this.view.type === "tag") {
            return this.tagById(this.view.id)?.name || "";
        }
        return _t("All mailboxes");
    }
}

export const maildeskStoreService = {
    dependencies: ["orm", "action", "notification", "bus_service"],
    start(env, services) {
        return reactive(new MaildeskStore(env, services));
    },
};

registry.category("services").add("maildesk.store", maildeskStoreService);
