import { describe, expect, test } from "@odoo/hoot";
import {
    formatRecipient,
    parseRecipient,
    splitRecipients,
} from "@maildesk/views/maildesk_recipients_field";

describe.current.tags("desktop");

test("a recipients line splits at commas and semicolons, not inside a quoted name or <...>", () => {
    expect(splitRecipients('"Doe, Jane" <jane@x.test>; bob@x.test,  , Ann <ann@x.test>')).toEqual([
        '"Doe, Jane" <jane@x.test>',
        "bob@x.test",
        "Ann <ann@x.test>",
    ]);
    expect(splitRecipients("")).toEqual([]);
});

test("a recipient is parsed into name and address, and checked", () => {
    expect(parseRecipient('"Doe, Jane" <jane@x.test>')).toEqual({
        raw: '"Doe, Jane" <jane@x.test>',
        name: "Doe, Jane",
        email: "jane@x.test",
        valid: true,
    });
    expect(parseRecipient("bob@x.test").valid).toBe(true);
    expect(parseRecipient("not an address").valid).toBe(false);
    expect(parseRecipient("Bob <bob@>").valid).toBe(false);
});

test("a name with a comma is quoted; a name that repeats the address is left out", () => {
    expect(formatRecipient("Doe, Jane", "jane@x.test")).toBe('"Doe, Jane" <jane@x.test>');
    expect(formatRecipient("Megan Bowen", "megan@x.test")).toBe("Megan Bowen <megan@x.test>");
    expect(formatRecipient("MEGAN@x.test", "megan@x.test")).toBe("megan@x.test");
    expect(splitRecipients(formatRecipient("Doe, Jane", "jane@x.test")).map(parseRecipient)[0].name).toBe(
        "Doe, Jane"
    );
});
