import { _t } from "@web/core/l10n/translation";

/** Messages of one server call: the progress bar moves chunk by chunk (each is 5 Graph $batch requests). */
export const BULK_CHUNK = 100;
/** Logging posts each message (and may download its attachments): smaller chunks, a progress bar that moves. */
const CHUNKS = { log: 20 };

const DONE_TEXT = {
    mark_read: (n) => _t("%s messages marked as read.", n),
    mark_unread: (n) => _t("%s messages marked as unread.", n),
    flag: (n) => _t("%s messages flagged.", n),
    unflag: (n) => _t("%s messages unflagged.", n),
    tag: (n) => _t("%s messages tagged.", n),
    move: (n) => (n === 1 ? _t("Message moved.") : _t("%s messages moved.", n)),
    delete: (n) => (n === 1 ? _t("Message deleted.") : _t("%s messages deleted.", n)),
    log: (n, target) => _t("%(count)s messages logged on %(record)s.", { count: n, record: target?.name || "" }),
};

export const PROGRESS_LABELS = {
    mark_read: _t("Marking as read"),
    mark_unread: _t("Marking as unread"),
    flag: _t("Flagging"),
    unflag: _t("Unflagging"),
    tag: _t("Tagging"),
    move: _t("Moving"),
    delete: _t("Deleting"),
    log: _t("Logging"),
};

/**
 * The message ids of the selection, resolved on the server when they are not simply the rows ticked: "select all"
 * (the whole list) and conversation rows (each stands for every message of its conversation in the list).
 * `ids` given (rows dragged): those rows, as conversations when the list shows conversations.
 */
export async function selectionIds(store, ids = null) {
    const all = !ids && store.selection.state.all;
    const picked = ids || (all ? null : store.selection.checkedIds());
    if (!all && !store.grouped) {
        return picked;
    }
    return store.callInbox("maildesk_selection_ids", [], {
        view: store.view,
        filters: store.filters,
        search: store.search,
        exclude_ids: all ? store.selection.excludedIds() : [],
        ids: picked,
        grouped: store.grouped,
    });
}

/**
 * Run a bulk action on `ids` (or, with `ids` null, on the store's selection: see selectionIds), in chunks,
 * with `store.bulkProgress` showing how far it got. `expand`: `ids` are rows of the list (conversations when
 * grouped), not messages. Returns the summed answer: done, failed, skipped, undo ([[folder id, [message ids]]]:
 * where moved / deleted messages came from), notification (the first one).
 */
export async function runBulk(store, action, value, ids = null, { expand = true } = {}) {
    store.bulkProgress = { action, label: PROGRESS_LABELS[action] || "", done: 0, total: ids?.length || 0 };
    const summary = { done: 0, failed: 0, skipped: 0, undo: [], notification: false };
    const chunk = CHUNKS[action] || BULK_CHUNK;
    try {
        if (expand) {
            ids = await selectionIds(store, ids);
        }
        store.bulkProgress.total = ids.length;
        for (let start = 0; start < ids.length; start += chunk) {
            const result = await store.callInbox("maildesk_bulk", [ids.slice(start, start + chunk), action], {
                value: value ?? null,
            });
            summary.done += result.done;
            summary.failed += result.failed;
            summary.skipped += result.skipped;
            summary.undo.push(...result.undo);
            summary.notification = summary.notification || result.notification;
            store.bulkProgress.done = Math.min(ids.length, start + chunk);
        }
    } finally {
        store.bulkProgress = null;
    }
    summary.ids = ids;
    return summary;
}

/** The toast after a bulk action: what was done, and Undo for a move or a delete. */
export function announce(store, action, summary, target = null) {
    if (summary.notification) {
        // read only, or what Outlook refused (put back): the server's own words
        store.services.action.doAction(summary.notification);
    }
    if (action === "log" && summary.skipped) {
        store.notify(_t("%s messages left as they were: already logged, or read only for you.", summary.skipped));
    }
    if (!summary.done) {
        return;
    }
    const undo = summary.undo;
    let close = null;
    const buttons = undo.length
        ? [{ name: _t("Undo"), primary: true, onClick: () => { close?.(); undoBulk(store, undo); } }]
        : [];
    const text = (DONE_TEXT[action] || ((n) => _t("%s messages changed.", n)))(summary.done, target);
    close = store.services.notification.add(text, { type: "success", buttons });
}

export async function undoBulk(store, undo) {
    const result = await store.callInbox("maildesk_bulk_undo", [undo]);
    await store.refresh();
    store.notify(result.restored === 1 ? _t("Message put back.") : _t("%s messages put back.", result.restored));
}

/**
 * A bulk action on the selection (or on `ids`: dragged rows); the selection is cleared, the toast shown.
 * `target`: the record of a "log" (`{model, id, name}`).
 */
export async function bulkOnSelection(store, action, value = null, ids = null, target = null) {
    const summary = await runBulk(store, action, value, ids);
    store.selection.clear();
    if (["move", "delete"].includes(action) && summary.ids.includes(store.message.id)) {
        store.closeMessage();
    }
    await store.refresh();
    announce(store, action, summary, target);
    return summary;
}

/** "Log to record" on the selection: the record, chosen once in the server's chooser (null: cancelled). */
export function chooseLogTarget(store) {
    return new Promise((resolve) => {
        store.services.action.doAction(
            {
                type: "ir.actions.act_window",
                name: _t("Log to Record"),
                res_model: "maildesk.log.record",
                views: [[false, "form"]],
                target: "new",
                context: { default_message_count: store.selectionCount },
            },
            { onClose: (infos) => resolve(infos?.model ? infos : null) }
        );
    });
}

/** Move or delete the open message; the next one opens in its place; Undo in the toast. */
export async function actOnOpenMessage(store, action, value = null) {
    const id = store.message.id;
    let summary;
    await store.leaveOpenMessage(async () => {
        summary = await runBulk(store, action, value, [id], { expand: false });
        await store.refresh();
    });
    announce(store, action, summary);
}

/** Shift-click: tick every row from the anchor (the last row clicked) to `index`, loading them if needed. */
export async function selectRange(store, index) {
    const anchor = store.selection.state.anchor;
    const from = anchor >= 0 ? anchor : Math.max(0, store.pages.indexOf(store.selectedId));
    const [first, last] = from <= index ? [from, index] : [index, from];
    await store.pages.ensureRange(first, last);
    const ids = [];
    for (let i = first; i <= last; i++) {
        const row = store.pages.row(i);
        if (row) {
            ids.push(row.id);
        }
    }
    store.selection.set(ids, true);
    store.selection.state.anchor = index;
}
