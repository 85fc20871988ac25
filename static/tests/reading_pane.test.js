import { describe, expect, test } from "@odoo/hoot";
import { click, queryAll, queryAllTexts } from "@odoo/hoot-dom";
import { animationFrame } from "@odoo/hoot-mock";
import { MockServer, onRpc } from "@web/../tests/web_test_helpers";
import { defineMaildeskModels, openInbox, seedMailbox } from "./maildesk_test_helpers";

describe.current.tags("desktop");
defineMaildeskModels();

/** Open the newest message with what maildesk_read adds for real mail (engine/bodies.py). */
async function openWith(extra) {
    await seedMailbox({ count: 2 });
    onRpc("maildesk.inbox", "maildesk_read", ({ args }) => ({
        ...MockServer.env["maildesk.inbox"].maildesk_read(args[0]),
        ...extra,
    }));
    await openInbox();
    await click(".o-maildesk-MessageList-row[data-index='0']");
    await animationFrame();
    await animationFrame();
}

test("meeting mail shows the invitation's summary above the body, as text", async () => {
    await openWith({
        meeting: {
            type: "meetingRequest", label: "Meeting request", start: "2030-03-01 10:00:00",
            end: "2030-03-01 11:30:00", all_day: false, location: "<b>Room Ærø</b>",
            organizer: { name: "Megan Bowen", address: "megan@fabrikam.test" }, attendee: false,
        },
    });
    expect(".o-maildesk-ReadingPane-meeting").toHaveCount(1);
    expect(".o-maildesk-ReadingPane-meetingLabel").toHaveText("Meeting request");
    expect(".o-maildesk-ReadingPane-meetingWhere").toHaveText(/Where:\s*<b>Room Ærø<\/b>/);
    expect(".o-maildesk-ReadingPane-meetingWhere b").toHaveCount(0);
    expect(".o-maildesk-ReadingPane-meetingOrganizer").toHaveText(/Organizer:\s*Megan Bowen/);
    expect(".o-maildesk-ReadingPane-meetingWhen").toHaveText(/Fri 1 Mar 2030, .+ – /);
    expect(".o-maildesk-ReadingPane-meetingAttendee").toHaveCount(0);
});

test("an attached message downloads as .eml, a cloud link opens only when http(s)", async () => {
    await openWith({
        attachments: [
            { id: 7, name: "Contract.eml", mimetype: "message/rfc822", size: 2048, kind: "message", url: false },
            { id: 8, name: "Plan.docx", size: 0, kind: "link", url: "https://contoso.sharepoint.com/plan.docx" },
            { id: 9, name: "Evil", size: 0, kind: "link", url: "javascript:alert(1)" },
        ],
    });
    expect(".o-maildesk-ReadingPane-attachedMessage").toHaveAttribute("href", "/web/content/7?download=true");
    const links = queryAll("a.o-maildesk-ReadingPane-cloudLink");
    expect(links).toHaveLength(1);
    expect(links[0]).toHaveAttribute("href", "https://contoso.sharepoint.com/plan.docx");
    expect(links[0]).toHaveAttribute("target", "_blank");
    expect(links[0]).toHaveAttribute("rel", "noopener noreferrer");
    expect(queryAll("a[href^='javascript']")).toHaveLength(0);
    expect(queryAllTexts("span.o-maildesk-ReadingPane-cloudLink")[0]).toMatch(/Evil\s*\(cloud link\)/);
});
