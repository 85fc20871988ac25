/**
 * The message list as pages of rows over an index range [0, total): only the pages the user looks
 * at are fetched, so a 50,000-row folder costs one page per screen. Replies of a superseded query
 * (another folder, filter or search) are dropped by comparing `key`.
 *
 * Plain class (no OWL): the store wraps its `state` in `reactive`.
 */
export const PAGE_SIZE = 50;

export class MessagePages {
    /**
     * @param {(offset: number, limit: number, count: boolean) => Promise<{total: ?number, rows: object[]}>} fetchPage
     *   `count`: whether the server must count the rows (first page, refresh); otherwise `total` may be null
     */
    constructor(fetchPage) {
        this.fetchPage = fetchPage;
        this.state = { key: 0, total: 0, loaded: false, rows: {}, pages: {} };
        this.lastRange = [0, PAGE_SIZE - 1];
    }

    /** Start over (new view, filter or search): empty rows, first page fetched. */
    reset() {
        const key = this.state.key + 1;
        Object.assign(this.state, { key, total: 0, loaded: false, rows: {}, pages: {} });
        this.lastRange = [0, PAGE_SIZE - 1];
        return this.loadPage(0);
    }

    /** Make sure the rows of [first, last] are loaded or loading. */
    ensureRange(first, last) {
        this.lastRange = [Math.max(0, first), Math.max(0, last)];
        const proms = [];
        for (const page of this.pagesOf(first, last)) {
            proms.push(this.loadPage(page));
        }
        return Promise.all(proms);
    }

    pagesOf(first, last) {
        const end = this.state.loaded ? Math.min(last, this.state.total - 1) : last;
        const pages = [];
        for (let page = Math.floor(Math.max(0, first) / PAGE_SIZE); page * PAGE_SIZE <= end; page++) {
            pages.push(page);
        }
        return pages;
    }

    async loadPage(page) {
        if (this.state.pages[page]) {
            return;
        }
        const key = this.state.key;
        this.state.pages[page] = "loading";
        let result;
        try {
            result = await this.fetchPage(page * PAGE_SIZE, PAGE_SIZE, !this.state.loaded);
        } catch (error) {
            if (key === this.state.key) {
                delete this.state.pages[page];
            }
            throw error;
        }
        if (key !== this.state.key) {
            return;
        }
        this.state.pages[page] = "loaded";
        if (result.total !== null && result.total !== undefined) {
            this.state.total = result.total;
        }
        this.state.loaded = true;
        result.rows.forEach((row, i) => (this.state.rows[page * PAGE_SIZE + i] = row));
    }

    /**
     * Fetch again the pages on screen and swap them in at once (live updates): no flicker,
     * pages off screen are forgotten and fetched again when scrolled to.
     */
    async refresh() {
        const key = this.state.key;
        const pages = this.pagesOf(...this.lastRange);
        const results = await Promise.all(pages.map((p, i) => this.fetchPage(p * PAGE_SIZE, PAGE_SIZE, i === 0)));
        if (key !== this.state.key) {
            return;
        }
        const rows = {};
        const loaded = {};
        pages.forEach((page, i) => {
            loaded[page] = "loaded";
            results[i].rows.forEach((row, j) => (rows[page * PAGE_SIZE + j] = row));
        });
        const total = results.length ? results[0].total ?? this.state.total : 0;
        Object.assign(this.state, { total, loaded: true, rows, pages: loaded });
    }

    /** @returns {number} index of the row with this id among loaded rows, or -1 */
    indexOf(id) {
        for (const index in this.state.rows) {
            if (this.state.rows[index].id === id) {
                return Number(index);
            }
        }
        return -1;
    }

    row(index) {
        return this.state.rows[index];
    }

    /** Patch the loaded copies of a message (optimistic updates). */
    patchRow(id, values) {
        for (const index in this.state.rows) {
            if (this.state.rows[index].id === id) {
                Object.assign(this.state.rows[index], values);
            }
        }
    }
}
