import { registry } from "@web/core/registry";

const RECIPIENT = "megan@contoso.test";
const SUBJECT = "MailDesk tour: a picture inline";
const DRAFT_SUBJECT = "MailDesk tour: kept when closed";
const LAST_WORDS = "Typed just before Escape.";
// a 1x1 PNG, what a screenshot pasted from the clipboard would be (only smaller)
const PNG_BASE64 =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==";
const COMPOSER = ".modal .o_maildesk_composer";
const TO_INPUT = `${COMPOSER} .o_field_widget[name=to_emails] input`;
const EDITABLE = `${COMPOSER} .o_field_widget[name=body_html] .odoo-editor-editable`;

/** The browser's paste of an image file (a screenshot from the clipboard) at the start of the text. */
function pasteImage() {
    const editable = document.querySelector(EDITABLE);
    const bytes = Uint8Array.from(atob(PNG_BASE64), (char) => char.charCodeAt(0));
    const clipboardData = new DataTransfer();
    clipboardData.items.add(new File([bytes], "screenshot.png", { type: "image/png" }));
    const paragraph = editable.querySelector("p") || editable;
    const range = document.createRange();
    range.selectNodeContents(paragraph);
    range.collapse(false);
    const selection = document.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    editable.dispatchEvent(new ClipboardEvent("paste", { clipboardData, bubbles: true, cancelable: true }));
}

/** Wait (up to 25 s) until a draft with `subject` is saved on the server: the composer's idle autosave. */
async function waitForDraft(subject) {
    const deadline = Date.now() + 25000;
    while (Date.now() < deadline) {
        const response = await fetch("/web/dataset/call_kw/maildesk.draft/search_count", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({
                jsonrpc: "2.0",
                method: "call",
                params: {
                    model: "maildesk.draft",
                    method: "search_count",
                    args: [[["subject", "=", subject]]],
                    kwargs: {},
                },
            }),
        });
        if ((await response.json()).result) {
            return;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error(`the draft "${subject}" was not saved while idle`);
}

/** Fails the step unless `selector` holds the keyboard focus. */
function expectFocus(selector, what) {
    return () => {
        if (!document.activeElement?.matches(selector)) {
            throw new Error(`${what} should have the focus, not ${document.activeElement?.outerHTML.slice(0, 120)}`);
        }
    };
}

/**
 * The composer (tests/test_composer_tour.py): focus in To, a seen address offered by the autocomplete in the one
 * To line, a pasted image, Send (the test checks the recipient's copy at the emulator: the image inline, cid:);
 * then a reply whose focus is in the text, and a new message closed with Escape: the draft is kept.
 */
registry.category("web_tour.tours").add("maildesk_composer_tour", {
    url: "/odoo/maildesk",
    steps: () => [
        { trigger: ".o-maildesk-Toolbar-compose", run: "click" },
        {
            content: "no raw size in bytes in the composer",
            trigger: `${COMPOSER}:not(:has(.o_field_widget[name=total_size]))`,
        },
        { content: "a new message: the focus is in To", trigger: TO_INPUT, run: expectFocus(TO_INPUT, "To") },
        { trigger: TO_INPUT, run: "edit megan" },
        {
            content: "the autocomplete offers the address seen in synced mail",
            trigger: `.o-autocomplete--dropdown-item:has(.o-maildesk-Recipients-option[data-email='${RECIPIENT}'])`,
            run: "click",
        },
        {
            content: "one tag in the one To line",
            trigger: `${COMPOSER} .o_field_widget[name=to_emails] .o-maildesk-Recipients-tag[data-email='${RECIPIENT}']`,
        },
        {
            content: "no contact is offered for creation",
            trigger: `${COMPOSER}:not(:has(.o_m2o_dropdown_option_create, .o_m2o_dropdown_option_create_edit))`,
        },
        { trigger: `${COMPOSER} .o_field_widget[name=subject] input`, run: `edit ${SUBJECT}` },
        { trigger: `${EDITABLE} p`, run: "editor Here is the picture:" },
        { content: "paste an image", trigger: EDITABLE, run: pasteImage },
        { content: "the image is in the text", trigger: `${EDITABLE} img` },
        { trigger: ".modal button[name=action_send]", run: "click" },
        { content: "sent: the composer closes", trigger: "body:not(:has(.modal))" },
        // a reply: the focus is in the text
        { trigger: ".o-maildesk-MessageList-row[data-index='0']", run: "click" },
        { trigger: ".o-maildesk-MessageActions-reply", run: "click" },
        {
            content: "a reply: the focus is in the text",
            trigger: EDITABLE,
            run: expectFocus(EDITABLE, "the text"),
        },
        { trigger: ".modal .btn-close", run: "click" },
        { trigger: "body:not(:has(.modal))" },
        // saved after ~10 s without typing, and closing with Escape keeps what was typed last
        { trigger: ".o-maildesk-Toolbar-compose", run: "click" },
        { trigger: `${COMPOSER} .o_field_widget[name=subject] input`, run: `edit ${DRAFT_SUBJECT}` },
        {
            content: "idle: the draft saves itself (about 10 s after the last key)",
            trigger: COMPOSER,
            run: () => waitForDraft(DRAFT_SUBJECT),
            timeout: 30000,
        },
        { trigger: `${EDITABLE} p`, run: `editor ${LAST_WORDS}` },
        { content: "Escape closes the composer", trigger: `${EDITABLE} p`, run: "press Escape" },
        { trigger: "body:not(:has(.modal))" },
        { content: "wait for the save that closing started", trigger: ".o-maildesk-Toolbar-compose" },
    ],
});
