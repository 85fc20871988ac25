import { Component, onMounted, onWillUnmount, useEffect, useRef, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { SelectionBar } from "../selection_bar/selection_bar";
import { MessageRow, ROW_HEIGHT } from "./message_row";

const OVERSCAN = 8;

/**
 * Middle pane: a virtualised list. Only the rows in view (plus a margin) are in the DOM and only
 * their pages are fetched, so 50,000 messages scroll like 50.
 */
export class MessageList extends Component {
    static template = "maildesk.MessageList";
    static components = { MessageRow, SelectionBar };
    static props = {};

    setup() {
        this.store = useState(useService("maildesk.store"));
        this.state = useState({ scrollTop: 0, height: 800 });
        this.scroller = useRef("scroller");
        this.frame = null;
        // fetch the pages of the rows on screen
        useEffect(
            (first, last) => {
                this.store.pages.ensureRange(first, last);
            },
            () => [this.range.first, this.range.last, this.store.list.key]
        );
        // a new folder / filter / search starts at the top
        useEffect(
            () => {
                if (this.scroller.el) {
                    this.scroller.el.scrollTop = 0;
                }
                this.state.scrollTop = 0;
            },
            () => [this.store.list.key]
        );
        // keep the selected row visible (j / k)
        useEffect(
            (selectedId) => selectedId && this.scrollIntoView(this.store.pages.indexOf(selectedId)),
            () => [this.store.selectedId]
        );
        onMounted(() => {
            this.measure();
            this.resizeObserver = new ResizeObserver(() => this.measure());
            this.resizeObserver.observe(this.scroller.el);
        });
        onWillUnmount(() => {
            this.resizeObserver?.disconnect();
            cancelAnimationFrame(this.frame);
        });
    }

    measure() {
        if (this.scroller.el) {
            this.state.height = this.scroller.el.clientHeight || this.state.height;
        }
    }

    onScroll() {
        cancelAnimationFrame(this.frame);
        this.frame = requestAnimationFrame(() => {
            this.state.scrollTop = this.scroller.el?.scrollTop || 0;
        });
    }

    scrollIntoView(index) {
        const el = this.scroller.el;
        if (!el || index < 0) {
            return;
        }
        const top = index * ROW_HEIGHT;
        if (top < el.scrollTop) {
            el.scrollTop = top;
        } else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) {
            el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
        }
        this.state.scrollTop = el.scrollTop;
    }

    get range() {
        const total = this.store.list.loaded ? this.store.list.total : 0;
        const first = Math.max(0, Math.floor(this.state.scrollTop / ROW_HEIGHT) - OVERSCAN);
        const last = Math.min(
            Math.max(total - 1, 0),
            Math.ceil((this.state.scrollTop + this.state.height) / ROW_HEIGHT) + OVERSCAN
        );
        return { first, last };
    }

    get visibleIndices() {
        const { first, last } = this.range;
        const indices = [];
        for (let i = first; i <= last && i < this.store.list.total; i++) {
            indices.push(i);
        }
        return indices;
    }

    get canvasHeight() {
        return this.store.list.total * ROW_HEIGHT;
    }

    placeholderTop(index) {
        return index * ROW_HEIGHT;
    }

    get countLabel() {
        const total = this.store.list.total.toLocaleString();
        return this.store.grouped ? _t("%s conversations", total) : _t("%s messages", total);
    }

    /** The header's box: ticks every message of the list (on the server: the whole folder), or clears. */
    toggleAll() {
        if (this.store.selectionCount) {
            this.store.selection.clear();
        } else {
            this.store.selection.selectAll();
        }
    }

    /** The folder in view when it is one of the Outlook folders MailDesk does not sync (yet). */
    get unsyncedFolder() {
        if (this.store.view.type !== "folder") {
            return null;
        }
        const folder = this.store.folderById(this.store.view.id);
        return folder && folder.synced === false ? folder : null;
    }

    get isFiltered() {
        return Boolean(this.store.filters.length || this.store.search);
    }
}
