import { _t } from "@web/core/l10n/translation";

/** Messages of one server call: the progress bar moves chunk by chunk (each is 5 Graph $batch requests). */
export const BULK_CHUNK = 100;

const DONE_TEXT = {
    mark_read: (n) => _t("%s messages marked as read.", n),
    mark_unread: (n) => _t("%s messages marked as unread.", n),
    flag: (n) => _t("%s messages flagged.", n),
    unflag: (n) => _t("%s messages unflagged.", n),
    tag: (n) => _t("%s messages tagged.", n),
    move: (n) => (n === 1 ? _t("Message moved.") : _t("%s messages moved.", n)),
    delete: (n) => (n === 1 ? _t("Message deleted.") : _t("%s messages deleted.", n)),
};

export const PROGRESS_LABELS = {
    mark_read: _t("Marking as read"),
    mark_unread: _t("Marking as unread"),
    flag: _t("Flagging"),
    unflag: _t("Unflagging"),
    tag: _t("Tagging"),
    move: _t("Moving"),
    delete: _t("Deleting"),
};

/**
 * Run a bulk action on `ids` (or, with `ids` null, on the store's selection resolved on the server), in chunks,
 * with `store.bulkProgress` showing how far it got. Returns the summed answer: done, failed, skipped, undo
 * ([[folder id, [message ids]]]: where moved / deleted messages came from), notification (the first one).
 */
export async function runBulk(store, action, value, ids = null) {
    store.bulkProgress = { action, label: PROGRESS_LABELS[action] || "", done: 0, total: ids?.length || 0 };
    const summary = { done: 0, failed: 0, skipped: 0, undo: [], notification: false };
    try {
        if (!ids) {
            ids = store.selection.state.all
                ? await store.callInbox("maildesk_selection_ids", [], {
                      view: store.view,
                      filters: store.filters,
                      search: store.search,
                      exclude_ids: store.selection.excludedIds(),
                  })
                : store.selection.checkedIds();
        }
        store.bulkProgress.total = ids.length;
        for (let start = 0; start < ids.length; start += BULK_CHUNK) {
            const result = await store.callInbox("maildesk_bulk", [ids.slice(start, start + BULK_CHUNK), action], {
                value: value ?? null,
            });
            summary.done += result.done;
            summary.failed += result.failed;
            summary.skipped += result.skipped;
            summary.undo.push(...result.undo);
            summary.notification = summary.notification || result.notification;
            store.bulkProgress.done = Math.min(ids.length, start + BULK_CHUNK);
        }
    } finally {
        store.bulkProgress = null;
    }
    summary.ids = ids;
    return summary;
}

/** The toast after a bulk action: what was done, and Undo for a move or a delete. */
export function announce(store, action, summary) {
    if (summary.notification) {
        // read only, or what Outlook refused (put back): the server's own words
        store.services.action.doAction(summary.notification);
    }
    if (!summary.done) {
        return;
    }
    const undo = summary.undo;
    let close = null;
    const buttons = undo.length
        ? [{ name: _t("Undo"), primary: true, onClick: () => { close?.(); undoBulk(store, undo); } }]
        : [];
    const text = (DONE_TEXT[action] || ((n) => _t("%s messages changed.", n)))(summary.done);
    close = store.services.notification.add(text, { type: "success", buttons });
}

export async function undoBulk(store, undo) {
    const result = await store.callInbox("maildesk_bulk_undo", [undo]);
    await store.refresh();
    store.notify(result.restored === 1 ? _t("Message put back.") : _t("%s messages put back.", result.restored));
}

/** A bulk action on the selection (or on `ids`: dragged rows); the selection is cleared, the toast shown. */
export async function bulkOnSelection(store, action, value = null, ids = null) {
    const summary = await runBulk(store, action, value, ids);
    store.selection.clear();
    if (["move", "delete"].includes(action) && summary.ids.includes(store.message.id)) {
        store.closeMessage();
    }
    await store.refresh();
    announce(store, action, summary);
    return summary;
}

/** Move or delete the open message; the next one opens in its place; Undo in the toast. */
export async function actOnOpenMessage(store, action, value = null) {
    const id = store.message.id;
    let summary;
    await store.leaveOpenMessage(async () => {
        summary = await runBulk(store, action, value, [id]);
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
