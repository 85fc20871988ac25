import { describe, expect, test } from "@odoo/hoot";
import { Deferred } from "@odoo/hoot-mock";
import { MessagePages, PAGE_SIZE } from "@maildesk/services/message_pages";
import { formatFullDate, formatListDate } from "@maildesk/utils/format";
import { buildQuery, parseQuery } from "@maildesk/utils/search_query";

describe.current.tags("desktop");

function fakeServer(total) {
    const calls = [];
    const fetchPage = async (offset, limit) => {
        calls.push(offset);
        const rows = [];
        for (let i = offset; i < Math.min(offset + limit, total.value); i++) {
            rows.push({ id: i + 1, subject: `m${i}` });
        }
        return { total: total.value, rows };
    };
    return { calls, fetchPage };
}

test("MessagePages fetches each page once and only the pages asked for", async () => {
    const total = { value: 1000 };
    const server = fakeServer(total);
    const pages = new MessagePages(server.fetchPage);
    await pages.reset();
    expect(server.calls).toEqual([0]);
    expect(pages.state.total).toBe(1000);
    await pages.ensureRange(40, 120);
    expect(server.calls).toEqual([0, 50, 100]);
    await pages.ensureRange(0, 120);
    expect(server.calls).toEqual([0, 50, 100]);
    expect(pages.row(120).subject).toBe("m120");
    expect(pages.indexOf(121)).toBe(120);
    expect(pages.row(400)).toBe(undefined);
});

test("MessagePages drops replies of a superseded query", async () => {
    const slow = new Deferred();
    let first = true;
    const pages = new MessagePages(async () => {
        if (first) {
            first = false;
            await slow;
            return { total: 1, rows: [{ id: 99 }] };
        }
        return { total: 2, rows: [{ id: 1 }, { id: 2 }] };
    });
    const stale = pages.reset();
    await pages.reset();
    slow.resolve();
    await stale;
    expect(pages.state.total).toBe(2);
    expect(pages.indexOf(99)).toBe(-1);
});

test("MessagePages.refresh swaps the pages on screen at once and forgets the others", async () => {
    const total = { value: 200 };
    const server = fakeServer(total);
    const pages = new MessagePages(server.fetchPage);
    await pages.reset();
    await pages.ensureRange(150, 160);
    total.value = 201;
    const before = server.calls.length;
    await pages.refresh();
    expect(server.calls.slice(before)).toEqual([3 * PAGE_SIZE]);
    expect(pages.state.total).toBe(201);
    expect(pages.state.pages[0]).toBe(undefined);
    expect(pages.state.pages[3]).toBe("loaded");
});

test("search query: parse and build round-trip", () => {
    const parts = parseQuery('from:"Ada Lovelace" subject:report since:2024-01-01 until:2024-02-01 tag:Urgent hello "big deal"');
    expect(parts).toEqual({
        text: 'hello "big deal"',
        from: "Ada Lovelace",
        to: "",
        subject: "report",
        preview: "",
        tag: "Urgent",
        since: "2024-01-01",
        until: "2024-02-01",
    });
    expect(buildQuery(parts)).toBe(
        'hello "big deal" from:"Ada Lovelace" subject:report tag:Urgent since:2024-01-01 until:2024-02-01'
    );
    expect(parseQuery("body:invoice").preview).toBe("invoice");
    expect(buildQuery({ text: "", to: "bob" })).toBe("to:bob");
});

test("one date style: the list's days and months, the same in full (never 11/6/2025)", () => {
    const now = luxon.DateTime.local(2025, 11, 20, 12, 0);
    expect(formatListDate("2025-10-09 08:00:00", now)).toBe("9 Oct");
    expect(formatListDate("2023-10-09 08:00:00", now)).toBe("9 Oct 2023");
    expect(formatFullDate("2025-11-06 08:00:00")).toMatch(/^Thu 6 Nov 2025, \S/);
    expect(formatFullDate("2025-11-06 08:00:00")).not.toMatch(/\d+\/\d+\/\d+/);
});
