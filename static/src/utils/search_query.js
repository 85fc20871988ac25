/**
 * The search string of the inbox, e.g. `from:ann subject:"q3 report" since:2024-01-01 invoice`.
 * The server parses the same syntax (models/maildesk_inbox.py: parse_search); this module lets the
 * advanced search panel read and write it.
 */
export const SEARCH_KEYS = ["from", "to", "subject", "preview", "tag", "since", "until"];
const TOKEN = /(\w+):("[^"]*"|\S*)|"([^"]*)"|(\S+)/g;

/** @returns {{text: string, from: string, to: string, subject: string, preview: string, tag: string, since: string, until: string}} */
export function parseQuery(query) {
    const result = Object.fromEntries(SEARCH_KEYS.map((key) => [key, ""]));
    const words = [];
    for (const [, key, value, quoted, word] of (query || "").matchAll(TOKEN)) {
        const name = key?.toLowerCase() === "body" ? "preview" : key?.toLowerCase();
        if (key && SEARCH_KEYS.includes(name)) {
            result[name] = value.replace(/^"|"$/g, "");
        } else if (key) {
            words.push(`${key}:${value}`);
        } else {
            words.push(quoted !== undefined ? `"${quoted}"` : word);
        }
    }
    result.text = words.join(" ");
    return result;
}

export function buildQuery(parts) {
    const tokens = parts.text ? [parts.text.trim()] : [];
    for (const key of SEARCH_KEYS) {
        const value = (parts[key] || "").trim().replace(/"/g, "");
        if (value) {
            tokens.push(/\s/.test(value) ? `${key}:"${value}"` : `${key}:${value}`);
        }
    }
    return tokens.filter(Boolean).join(" ");
}
