/**
 * The rows the user picked in the message list, as in a desktop mail client: single rows (checkbox,
 * Ctrl/Cmd-click, `x`), ranges (Shift-click from the last row clicked) or "everything in this view" — which
 * is the whole folder on the server (its domain: view, filters, search), not the rows loaded, minus the rows
 * unticked afterwards.
 *
 * Plain class (no OWL): the store wraps it in `reactive` with the rest of its state.
 */
export class Selection {
    constructor() {
        this.state = { checked: {}, all: false, excluded: {}, anchor: -1 };
    }

    clear() {
        Object.assign(this.state, { checked: {}, all: false, excluded: {}, anchor: -1 });
    }

    isChecked(id) {
        return this.state.all ? !this.state.excluded[id] : Boolean(this.state.checked[id]);
    }

    /** Tick or untick one row; `index` becomes the anchor of the next Shift-click. */
    toggle(id, index) {
        this.set([id], !this.isChecked(id));
        this.state.anchor = index;
    }

    set(ids, value) {
        const bag = this.state.all ? this.state.excluded : this.state.checked;
        const add = this.state.all ? !value : value;
        for (const id of ids) {
            if (add) {
                bag[id] = true;
            } else {
                delete bag[id];
            }
        }
    }

    selectAll() {
        Object.assign(this.state, { checked: {}, all: true, excluded: {} });
    }

    /** @param {number} total the rows of the view (for "all") */
    count(total) {
        if (this.state.all) {
            return Math.max(0, total - Object.keys(this.state.excluded).length);
        }
        return Object.keys(this.state.checked).length;
    }

    /** The ticked ids (not for "all": those come from the server). */
    checkedIds() {
        return Object.keys(this.state.checked).map(Number);
    }

    excludedIds() {
        return Object.keys(this.state.excluded).map(Number);
    }
}
