import { deserializeDateTime } from "@web/core/l10n/dates";

const { DateTime } = luxon;

/** Short date for a list row: time today, weekday this week, day and month this year. */
export function formatListDate(serialized, now = DateTime.local()) {
    if (!serialized) {
        return "";
    }
    const date = deserializeDateTime(serialized);
    if (date.hasSame(now, "day")) {
        return formatTime(date);
    }
    if (now.diff(date, "days").days < 6 && date < now) {
        return date.toFormat("ccc");
    }
    if (date.hasSame(now, "year")) {
        return date.toFormat("d LLL");
    }
    return date.toFormat("d LLL yyyy"); // one style: "9 Oct", "9 Oct 2023" (never a numeric 11/6/2025)
}

/** The day in the list's style: "Mon 9 Oct 2023". */
export function formatDay(date) {
    return date.toFormat("ccc d LLL yyyy");
}

/** The time in the list's style (the locale's: "14:05" or "2:05 PM"). */
export function formatTime(date) {
    return date.toLocaleString(DateTime.TIME_SIMPLE);
}

/** Header of the reading pane, tooltip of a row: "Mon 9 Oct 2023, 14:05", the list's style in full. */
export function formatFullDate(serialized) {
    if (!serialized) {
        return "";
    }
    const date = deserializeDateTime(serialized);
    return `${formatDay(date)}, ${formatTime(date)}`;
}

/** "5 minutes ago" */
export function formatRelative(serialized) {
    return serialized ? deserializeDateTime(serialized).toRelative() : "";
}

export function formatSize(bytes) {
    if (!bytes) {
        return "";
    }
    const units = ["B", "KB", "MB", "GB"];
    let size = bytes;
    let unit = 0;
    while (size >= 1024 && unit < units.length - 1) {
        size /= 1024;
        unit++;
    }
    return `${size.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

/** Initials for the avatar of a row. */
export function initials(name) {
    const words = (name || "?").replace(/[<>"@].*$/, "").trim().split(/\s+/).filter(Boolean);
    return ((words[0]?.[0] || "?") + (words.length > 1 ? words[words.length - 1][0] : "")).toUpperCase();
}
