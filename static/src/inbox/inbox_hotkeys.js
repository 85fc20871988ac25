import { useExternalListener } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";

/**
 * Gmail/Outlook-style single-key shortcuts of the inbox. Ignored while typing, with a modifier,
 * or when a dialog is open (the ui service's active element is then not the document).
 */
export const INBOX_KEYS = {
    j: (store) => store.selectRelative(1),
    k: (store) => store.selectRelative(-1),
    r: (store) => store.message.data && store.compose("reply"),
    a: (store) => store.message.data && store.compose("reply_all"),
    f: (store) => store.message.data && store.compose("forward"),
    u: (store) => store.message.data && store.markRead(!store.message.data.is_read),
    s: (store) => store.message.data && store.toggleFlag(),
    "#": (store) => store.message.data && store.remove(),
    Delete: (store) => store.message.data && store.remove(),
    c: (store) => store.compose("compose"),
    x: (store) => store.toggleCurrent(),
    Escape: (store) => (store.selectionCount ? store.selection.clear() : store.message.id && store.closeMessage()),
};

export function useInboxHotkeys(store, rootRef) {
    const ui = useService("ui");
    useExternalListener(window, "keydown", (ev) => {
        const target = ev.target;
        if (
            ev.ctrlKey || ev.metaKey || ev.altKey ||
            ui.activeElement !== document ||
            target.closest?.("input, textarea, select, [contenteditable], .o-dropdown--menu") ||
            !rootRef.el?.isConnected
        ) {
            return;
        }
        if (ev.key === "/") {
            ev.preventDefault();
            rootRef.el.querySelector(".o-maildesk-SearchBox-input")?.focus();
            return;
        }
        const handler = INBOX_KEYS[ev.key];
        if (handler) {
            ev.preventDefault();
            handler(store);
        }
    });
}
