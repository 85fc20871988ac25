import { getKwArgs, models } from "@web/../tests/web_test_helpers";

const EXCLUDED_ROLES = ["deleteditems", "junkemail", "drafts"];
const FILTERS = {
    unread: (m) => !m.is_read,
    flagged: (m) => m.flag_status === "flagged",
    attachments: (m) => m.has_attachments,
    incoming: (m) => m.direction === "incoming",
    outgoing: (m) => m.direction === "outgoing",
};

/** JS twin of maildesk.inbox, the inbox's reads (models/maildesk_inbox.py), simplified. */
export class MaildeskInbox extends models.Model {
    _name = "maildesk.inbox";

    /** the maildesk.message records matching `domain` */
    _messages(domain) {
        return this.env["maildesk.message"]._filter(domain);
    }

    maildesk_folder_tree() {
        const accounts = this.env["maildesk.account"].search_read([]);
        // as the server: the whole tree, `synced` false for the folders not synced
        const folders = this.env["maildesk.folder"].search_read([]);
        const nodes = folders.map((f) => ({
            id: f.id,
            name: f.name,
            role: f.role || "",
            parent_id: f.parent_id?.[0] || false,
            account_id: f.account_id[0],
            synced: f.sync_enabled,
            unread: f.sync_enabled ? this._messages([["folder_id", "=", f.id], ["is_read", "=", false]]).length : 0,
            sync_state: f.sync_state,
            backfill_progress: f.backfill_progress,
            last_error: f.last_error || "",
            children: [],
        }));
        const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
        const tree = accounts.map((account) => {
            const own = nodes.filter((n) => n.account_id === account.id);
            const roots = own.filter((n) => !byId[n.parent_id]);
            own.filter((n) => byId[n.parent_id]).forEach((n) => byId[n.parent_id].children.push(n));
            const kind = ["not_authorized", "auth_invalid", "error"].includes(account.state)
                ? account.state
                : own.some((n) => n.sync_state === "backfilling") ? "backfilling" : "connected";
            return {
                id: account.id,
                name: account.name,
                email: account.email,
                state: account.state,
                last_sync_at: account.last_sync_at || false,
                last_error: account.last_error || "",
                folder_count: own.length,
                unread: own.filter((n) => !EXCLUDED_ROLES.includes(n.role)).reduce((s, n) => s + n.unread, 0),
                status: { kind, label: kind, progress: kind === "backfilling" ? 40 : 0, message: account.last_error || "" },
                folders: roots,
            };
        });
        return {
            accounts: tree,
            all_unread: tree.reduce((s, a) => s + a.unread, 0),
            tags: this.env["maildesk.tag"].search_read([], ["name", "color"]),
            is_manager: true,
        };
    }

    maildesk_list() {
        const { view = { type: "all" }, filters = [], search = "", grouped = false, offset = 0, limit = 50, count = true } =
            getKwArgs(arguments, "view", "filters", "search", "grouped", "offset", "limit", "count");
        let messages = this._messages(this._inboxViewDomain(view));
        for (const name of filters) {
            messages = messages.filter(FILTERS[name]);
        }
        if (search) {
            const text = search.toLowerCase();
            messages = messages.filter((m) =>
                [m.subject, m.from_name, m.from_address, m.body_preview].some((v) => (v || "").toLowerCase().includes(text))
            );
        }
        messages.sort((a, b) => (b.received_at || "").localeCompare(a.received_at || "") || b.id - a.id);
        let rows = messages.map((m) => this._inboxRow(m));
        if (grouped) {
            const threads = new Map();
            for (const m of messages) {
                const key = m.thread_key || `id:${m.id}`;
                const thread = threads.get(key) || { row: this._inboxRow(m), count: 0, unread: 0 };
                thread.count++;
                thread.unread += m.is_read ? 0 : 1;
                threads.set(key, thread);
            }
            rows = [...threads.values()].map((t) => ({ ...t.row, thread_count: t.count, thread_unread: t.unread }));
        }
        const page = rows.slice(offset, offset + limit);
        const last = page.length < limit && (page.length || !offset);
        return { total: count || last ? rows.length : null, offset, rows: page };
    }

    /** as the server: the whole list ("all" but exclude_ids) or the rows ticked; a conversation row stands for
     * every message of its conversation in the list */
    maildesk_selection_ids() {
        const { view = { type: "all" }, exclude_ids = [], ids = null, grouped = false } =
            getKwArgs(arguments, "view", "filters", "search", "exclude_ids", "ids", "grouped");
        const messages = this._messages(this._inboxViewDomain(view));
        const keyOf = (m) => m.thread_key || `id:${m.id}`;
        const keysOf = (picked) => new Set(messages.filter((m) => picked.includes(m.id)).map(keyOf));
        const inPicked = (picked) => {
            const keys = keysOf(picked);
            return (m) => (grouped ? keys.has(keyOf(m)) : picked.includes(m.id));
        };
        const picked = ids ? inPicked(ids) : () => true;
        const excluded = inPicked(exclude_ids);
        return messages
            .filter((m) => picked(m) && !excluded(m))
            .sort((a, b) => (b.received_at || "").localeCompare(a.received_at || "") || b.id - a.id)
            .map((m) => m.id);
    }

    /** as engine/bulk_actions.py: the change, and where moved / deleted messages came from (undo) */
    maildesk_bulk(ids, action, value) {
        value = value ?? getKwArgs(arguments, "ids", "action", "value").value;
        const Message = this.env["maildesk.message"];
        const before = Message.browse(ids).map((m) => [m.folder_id, m.id]);
        const methods = {
            mark_read: () => Message.action_mark_read(ids),
            mark_unread: () => Message.action_mark_unread(ids),
            flag: () => Message.write(ids, { flag_status: "flagged" }),
            unflag: () => Message.write(ids, { flag_status: "notFlagged" }),
            tag: () => ids.forEach((id) => Message.write([id], { tag_ids: [[4, value]] })),
            move: () => Message.action_move(ids, value),
            delete: () => ids.forEach((id) => Message.action_delete([id])),
        };
        methods[action]();
        const undo = {};
        if (["move", "delete"].includes(action)) {
            for (const [folderId, id] of before) {
                (undo[folderId] ||= []).push(id);
            }
        }
        return {
            done: ids.length, failed: 0, skipped: 0, notification: false,
            undo: Object.entries(undo).map(([folderId, group]) => [Number(folderId), group]),
        };
    }

    maildesk_bulk_undo(undo) {
        let restored = 0;
        for (const [folderId, ids] of undo) {
            this.env["maildesk.message"].action_move(ids, folderId);
            restored += ids.length;
        }
        return { restored };
    }

    _inboxViewDomain(view) {
        if (view.type === "folder") {
            return [["folder_id", "=", view.id]];
        }
        if (view.type === "tag") {
            return [["tag_ids", "in", [view.id]]];
        }
        const folderDomain = [["role", "not in", EXCLUDED_ROLES]];
        if (view.type === "account") {
            folderDomain.push(["account_id", "=", view.id]);
        }
        return [["folder_id", "in", this.env["maildesk.folder"].search(folderDomain)]];
    }

    _inboxRow(m) {
        return {
            id: m.id,
            subject: m.subject || "",
            from_name: m.from_name || "",
            from_address: m.from_address || "",
            to: m.to_recipients || "",
            date: m.received_at || false,
            preview: m.body_preview || "",
            is_read: m.is_read,
            is_flagged: m.flag_status === "flagged",
            has_attachments: m.has_attachments,
            tag_ids: m.tag_ids,
            direction: m.direction,
            account_id: m.account_id,
            folder_id: m.folder_id,
            folder_role: this.env["maildesk.folder"].browse(m.folder_id)[0]?.role || "",
            is_local: false,
            pending: false,
            thread_count: 1,
            thread_unread: 0,
        };
    }

    maildesk_mark_opened(id) {
        this.env["maildesk.message"].write([id], { is_read: true });
        return false;
    }

    maildesk_read(id) {
        const { mark_read = true } = getKwArgs(arguments, "id", "mark_read");
        const [message] = this._messages([["id", "=", id]]);
        if (mark_read) {
            this.env["maildesk.message"].write([id], { is_read: true });
        }
        const thread = message.thread_key ? this._messages([["thread_key", "=", message.thread_key]]) : [];
        return {
            ...this._inboxRow({ ...message, is_read: mark_read || message.is_read }),
            cc: message.cc_recipients || "",
            to_all: message.to_recipients || "",
            body_html: message.body_html || "",
            body_error: "",
            attachments: [],
            attachments_missing: message.has_attachments,
            account_name: this.env["maildesk.account"].browse(message.account_id)[0]?.name || "",
            folder_name: this.env["maildesk.folder"].browse(message.folder_id)[0]?.name || "",
            logged_to: false,
            thread: thread.length > 1 ? thread.map((m) => this._inboxRow(m)) : [],
        };
    }
}
