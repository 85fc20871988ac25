import { Component, onWillUnmount, useState } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { useService } from "@web/core/utils/hooks";
import { formatRelative } from "../../utils/format";

const CLOCK_TICK = 30000; // ms

const KIND_CLASSES = {
    connected: "text-success",
    syncing: "text-info",
    backfilling: "text-info",
    not_authorized: "text-warning",
    auth_invalid: "text-danger",
    auth_failing: "text-danger",
    error: "text-danger",
    folder_error: "text-warning",
    no_folders: "text-muted",
};

/**
 * Where users look for sync health: Connected / Syncing newest / Backfilling (progress bar) /
 * authorization needed (Authorize button) / Error (message, Retry), plus the last sync time.
 */
export class AccountStatus extends Component {
    static template = "maildesk.AccountStatus";
    static props = { account: Object };

    setup() {
        this.store = useState(useService("maildesk.store"));
        // "Synced 3 minutes ago" moves on by itself: the server tells open inboxes of a new sync time only
        // every few minutes (a sync that changes nothing is no reason to reload them)
        this.clock = useState({ tick: 0 });
        const timer = browser.setInterval(() => this.clock.tick++, CLOCK_TICK);
        onWillUnmount(() => browser.clearInterval(timer));
    }

    get status() {
        return this.props.account.status;
    }

    get kindClass() {
        return KIND_CLASSES[this.status.kind] || "text-muted";
    }

    get lastSync() {
        void this.clock.tick; // re-rendered on each tick
        return formatRelative(this.props.account.last_sync_at);
    }

    get needsAuthorization() {
        return ["not_authorized", "auth_invalid", "auth_failing"].includes(this.status.kind);
    }

    /** After a refusal, the last sync time is the last one that worked, not a sign that all is well. */
    get failing() {
        return ["auth_invalid", "auth_failing", "error"].includes(this.status.kind);
    }

    authorize() {
        return this.store.runAccountAction(this.props.account.id, "action_authorize");
    }

    /** The account's folder tree from Outlook (synced or not): then "Sync this folder" on any of them. */
    fetchFolders() {
        return this.store.runAccountAction(this.props.account.id, "action_fetch_folders");
    }

    syncNow() {
        return this.store.runAccountAction(this.props.account.id, "action_sync_now");
    }
}
