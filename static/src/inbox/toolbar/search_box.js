import { Component, useEffect, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";
import { buildQuery, parseQuery } from "../../utils/search_query";

/** Search input (`/` focuses it) with an advanced panel for sender, recipient, subject, dates, tag. */
export class SearchBox extends Component {
    static template = "maildesk.SearchBox";
    static props = {};

    setup() {
        this.store = useState(useService("maildesk.store"));
        this.state = useState({ text: this.store.search, advanced: false });
        this.fields = useState(parseQuery(this.store.search));
        // the store clears the search when another folder is chosen
        useEffect(
            (search) => {
                this.state.text = search;
            },
            () => [this.store.search]
        );
    }

    submit(ev) {
        ev?.preventDefault();
        this.state.advanced = false;
        return this.store.setSearch(this.state.text);
    }

    clear() {
        this.state.text = "";
        return this.store.setSearch("");
    }

    onKeydown(ev) {
        if (ev.key === "Escape") {
            ev.target.blur();
        }
    }

    toggleAdvanced() {
        this.state.advanced = !this.state.advanced;
        if (this.state.advanced) {
            Object.assign(this.fields, parseQuery(this.state.text));
        }
    }

    applyAdvanced(ev) {
        ev.preventDefault();
        this.state.text = buildQuery(this.fields);
        return this.submit();
    }
}
