"""Script injection through mail, checked where it would run: in the web client, in headless Chromium.

Every payload of :data:`hostile_corpus.XSS_PAYLOADS` arrives from Outlook (the emulator) in a message body, a
subject and a sender name, is synced by the crons, and is opened in the inbox (``/odoo/maildesk``, the body fetched
from Graph on open) and in the message form. Each payload, if it ever ran, would raise ``top.__xss`` or open a
dialog; the test also inspects the rendered DOM (the body frame's sandbox and CSP, no script / handler /
``javascript:`` / ``data:`` document / form / frame / refresh left, nothing injected around the frame) and clicks
every link and control of every body.
"""
import json
from unittest.mock import patch

from odoo.tests import common, tagged

from .common import MaildeskHttpCase
from .hostile_corpus import XSS_PAYLOADS

CHECK_JS = r"""
(async () => {
    const cases = %(cases)s;
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const until = async (fn, what, timeout = 30000) => {
        const start = Date.now();
        while (Date.now() - start < timeout) {
            const value = fn();
            if (value) { return value; }
            await sleep(40);
        }
        throw new Error("timeout waiting for " + what);
    };
    const dialogs = [];
    if ((window.__xssDialogs || []).length || window.__xss) {
        console.error("XSS before any message was opened: " + JSON.stringify(window.__xssDialogs) + " "
                      + window.__xss);
        return;
    }
    const popups = [];
    window.open = (...args) => { popups.push(String(args[0])); return null; };
    const violations = [];
    const SCRIPT_URL = /^(javascript|vbscript|livescript):/i;
    const URL_ATTRS = ["href", "src", "action", "formaction", "xlink:href", "data", "background", "poster", "srcdoc",
                       "dynsrc", "lowsrc"];
    const BAD_CSS = /expression\s*\(|javascript:|vbscript:|behavior\s*:|-moz-binding|@import/i;
    const inspect = (root, where) => {
        for (const el of root.querySelectorAll("*")) {
            if (el.classList.contains("o-maildesk-BodyFrame-frame")) { continue; }  // MailDesk's own sandbox
            const tag = el.tagName.toLowerCase();
            // (an <isindex> left by the sanitizer is an inert unknown element in today's browsers: its attributes
            // are still checked below)
            if (["script", "iframe", "frame", "frameset", "object", "embed", "base", "form", "link", "applet",
                 "portal"].includes(tag)) {
                violations.push(where + ": <" + tag + ">");
            }
            if (tag === "meta" && /refresh|set-cookie|content-security/i.test(el.getAttribute("http-equiv") || "")
                && !el.closest("head")) {
                violations.push(where + ": meta " + el.getAttribute("http-equiv"));
            }
            if (tag === "style" && BAD_CSS.test(el.textContent)) {
                violations.push(where + ": <style> " + el.textContent.slice(0, 40));
            }
            for (const attr of el.getAttributeNames()) {
                const value = (el.getAttribute(attr) || "").replace(/[\u0000-\u0020]/g, "");
                if (/^on/i.test(attr)) { violations.push(where + ": " + tag + "[" + attr + "]"); }
                if (URL_ATTRS.includes(attr.toLowerCase())) {
                    const dataDocument = /^data:/i.test(value)
                        && !(tag === "img" && /^data:image\/(png|gif|jpe?g|webp)/i.test(value));
                    if (SCRIPT_URL.test(value) || dataDocument) {
                        violations.push(where + ": " + tag + "[" + attr + "=" + value.slice(0, 40) + "]");
                    }
                }
                if (attr === "style" && BAD_CSS.test(value)) {
                    violations.push(where + ": style " + value.slice(0, 40));
                }
            }
        }
    };
    const checkFrame = async (index, where) => {
        const frame = await until(() => {
            for (const candidate of document.querySelectorAll(".o-maildesk-BodyFrame-frame")) {
                const doc = candidate.contentDocument;
                if (doc && doc.body && doc.body.textContent.includes("[xss-case-" + index + "]")) { return candidate; }
            }
            return null;
        }, where + " body of case " + index);
        const sandbox = frame.getAttribute("sandbox");
        if (sandbox === null || /allow-scripts|allow-top-navigation|allow-popups|allow-forms/.test(sandbox)) {
            violations.push(where + ": frame sandbox " + sandbox);
        }
        const doc = frame.contentDocument;
        const csp = doc.querySelector('meta[http-equiv="Content-Security-Policy"]');
        if (!csp || !/default-src 'none'/.test(csp.getAttribute("content"))) {
            violations.push(where + ": no CSP in the frame");
        }
        inspect(doc.body, where + " case " + index);
        // every control of the body is hovered and clicked (web links excepted: they would open a real tab)
        for (const el of doc.body.querySelectorAll("a, button, input, summary, area, details, video, audio, div")) {
            if (/^(https?|mailto):/i.test(el.getAttribute("href") || "")) { continue; }
            el.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
            el.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true }));  // SVG has no click()
        }
        const show = document.querySelector(".o-maildesk-BodyFrame-showImages");
        if (show) { show.click(); await sleep(150); }
    };
    const store = await until(() => odoo.__WOWL_DEBUG__?.root?.env?.services?.["maildesk.store"], "the store");
    const action = odoo.__WOWL_DEBUG__.root.env.services.action;
    await until(() => document.querySelector(".o-maildesk-MessageList-row"), "the message list");
    // the inbox: each message opened in the reading pane (its body fetched from Outlook on open)
    for (const [index, item] of cases.entries()) {
        await store.openMessage(item.id);
        await checkFrame(index, "inbox");
        const pane = document.querySelector(".o-maildesk-Inbox") || document.body;
        inspect(pane.querySelector(".o-maildesk-ReadingPane") || pane, "reading pane " + index);
    }
    const list = document.querySelector(".o-maildesk-MessageList");
    if (list) { inspect(list, "message list"); }
    const tree = document.querySelector(".o-maildesk-FolderPane");
    if (tree) { inspect(tree, "folder pane"); }
    // the message form (a few): the same body in the form's field widget
    for (const [index, item] of cases.entries()) {
        if (index %% 8) { continue; }
        await action.doAction({ type: "ir.actions.act_window", res_model: "maildesk.message", res_id: item.id,
                                views: [[false, "form"]] });
        await checkFrame(index, "form");
        inspect(document.querySelector(".o_form_view") || document.body, "form " + index);
    }
    await sleep(1500);  // anything delayed (timers, animations, image errors) has had its chance
    dialogs.push(...(window.__xssDialogs || []));
    const result = { xss: window.__xss || 0, dialogs, popups, violations: violations.slice(0, 30),
                     count: violations.length, opened: cases.length };
    if (result.xss || dialogs.length || popups.some((url) => !/^https?:|^mailto:/.test(url)) || violations.length) {
        console.error("XSS check failed: " + JSON.stringify(result));
    } else {
        console.log("maildesk-xss " + JSON.stringify(result));
        console.log("test successful");
    }
})();
"""


# Installed in every document before its own scripts: a dialog is recorded (with where it came from), not shown.
GUARD_JS = r"""
window.__xssDialogs = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
    window[name] = function (...args) {
        window.__xssDialogs.push(name + "(" + args.join(",") + ") " + (new Error().stack || ""));
        (window.top.__xss = (window.top.__xss || 0) + 1);
    };
}
"""


class XssGuardBrowser(common.ChromeBrowser):
    """Chromium with the dialog guard in every document, and native dialogs recorded and dismissed (a dialog
    would otherwise block the page until the test times out)."""

    dialogs = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._handlers['Page.javascriptDialogOpening'] = self._handle_dialog
        self._websocket_request('Page.addScriptToEvaluateOnNewDocument', params={'source': GUARD_JS})

    def _handle_dialog(self, message='', type='', url='', **kw):  # noqa: A002 (CDP's names)
        XssGuardBrowser.dialogs.append('%s: %s (%s)' % (type, message, url))
        self._websocket_send('Page.handleJavaScriptDialog', params={'accept': False})


@tagged('post_install', '-at_install')
class TestXssInBrowser(MaildeskHttpCase):

    emulator_options = {'users': 1, 'messages': 3}

    def test_hostile_mail_never_runs(self):
        self.env['ir.config_parameter'].sudo().set_param('maildesk.permission_level', 'read')
        account = self.make_account(user=self.env.ref('base.user_admin'))
        account.action_fetch_folders()
        count = len(XSS_PAYLOADS)
        self.assertGreaterEqual(count, 50)
        for index, payload in enumerate(XSS_PAYLOADS):
            self.emulator.deliver(account.email, subject=payload[:250], **{
                'from': {'name': XSS_PAYLOADS[(index + 1) % count][:120], 'address': 'x%d@evil.test' % index},
                'body': {'contentType': 'html', 'content': '<p>[xss-case-%d]</p>%s<div>%s</div>' % (
                    index, payload, XSS_PAYLOADS[(index + 7) % count])}})
        account.action_sync_now()
        messages = self.env['maildesk.message'].search([('account_id', '=', account.id),
                                                        ('from_address', '=like', 'x%@evil.test')])
        by_index = {int(m.from_address[1:].split('@')[0]): m for m in messages}
        self.assertEqual(sorted(by_index), list(range(count)), 'every hostile message was synced')
        self.assertEqual(by_index[0].subject, XSS_PAYLOADS[0], 'subjects are stored as text, unchanged')
        cases = [{'id': by_index[index].id} for index in range(count)]
        XssGuardBrowser.dialogs = []
        with patch.object(common, 'ChromeBrowser', XssGuardBrowser):
            self.browser_js('/odoo/maildesk', CHECK_JS % {'cases': json.dumps(cases)},
                            ready='!!(odoo.__WOWL_DEBUG__ && odoo.__WOWL_DEBUG__.root)', login='admin', timeout=600)
        self.assertFalse(XssGuardBrowser.dialogs, 'a payload opened a dialog')
        messages.invalidate_recordset()
        self.assertTrue(all(messages.mapped('body_fetched_at')), 'every body was fetched from Outlook and shown')
        for message in messages:
            body = str(message.body_html).lower()
            for needle in ('<script', 'javascript:', 'onerror', 'onload', '<iframe', '<object', '<embed', 'srcdoc',
                           'http-equiv', '<form', 'expression('):
                self.assertNotIn(needle, body, 'the stored body keeps %s' % needle)
