"""Script injection and fetches through mail, checked where they would run: in the web client, in headless Chromium.

Every payload of :data:`hostile_corpus.XSS_PAYLOADS` arrives from Outlook (the emulator) in a message body, a
subject and a sender name, is synced by the crons, and is opened in the inbox (``/odoo/maildesk``, the body fetched
from Graph on open) and in the message form. Each payload, if it ever ran, would raise ``top.__xss`` or open a
dialog; the test also inspects the rendered DOM (the body frame's sandbox and CSP, no script / handler /
``javascript:`` / ``data:`` document / form / frame / refresh left, nothing injected around the frame) and clicks
every link and control of every body.
"""
import base64
import http.server
import json
import threading
from unittest.mock import patch

from markupsafe import Markup

from odoo import http as odoo_http
from odoo.tests import TransactionCase, common, tagged

from odoo.addons.maildesk.engine import bodies

from .common import MaildeskHttpCase
from .hostile_corpus import XSS_PAYLOADS

# Both browser scripts wait with the same helpers (they are %-formatted: %(until)s puts these in).
UNTIL_JS = r"""
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
"""

CHECK_JS = r"""
(async () => {
    const cases = %(cases)s;
%(until)s    const dialogs = [];
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
            self.browser_js('/odoo/maildesk', CHECK_JS % {'cases': json.dumps(cases), 'until': UNTIL_JS},
                            ready='!!(odoo.__WOWL_DEBUG__ && odoo.__WOWL_DEBUG__.root)', login='admin', timeout=600)
        self.assertFalse(XssGuardBrowser.dialogs, 'a payload opened a dialog')
        messages.invalidate_recordset()
        self.assertTrue(all(messages.mapped('body_fetched_at')), 'every body was fetched from Outlook and shown')
        for message in messages:
            body = str(message.body_html).lower()
            for needle in ('<script', 'javascript:', 'onerror', 'onload', '<iframe', '<object', '<embed', 'srcdoc',
                           'http-equiv', '<form', 'expression('):
                self.assertNotIn(needle, body, 'the stored body keeps %s' % needle)


# ---------------------------------------------------------------------------------------------------------------------
# Fetches: a body must not make the reader's browser request anything from Odoo (nor anywhere before "Show images")

REMOTE_HOST = 'images.remote.test'  # Chromium resolves it to 127.0.0.1, where the test's remote image server listens
CANARY = '/maildesk_canary/'
PHASE_MARKER = '/maildesk_canary_phase/confined'
PNG_1X1 = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAA'
                           'AABJRU5ErkJggg==')


def fetch_payloads(odoo_netloc, odoo_port):
    """Every way a body could make the browser request an Odoo URL: each ``/maildesk_canary/...`` (or the logout) is a
    request that must never arrive."""
    odoo = 'http://%s' % odoo_netloc
    return [
        '<img src="/web/session/logout"><img src="/maildesk_canary/img-relative">',
        '<img src="%s/maildesk_canary/img-absolute"><img src="//%s/maildesk_canary/img-protocol-relative">' % (
            odoo, odoo_netloc),
        '<img src="http://2130706433:%d/maildesk_canary/decimal-ip"><img src="http://0x7f.1:%d/maildesk_canary/hex-ip">'
        '<img src="http://localhost:%d/maildesk_canary/localhost">' % (odoo_port, odoo_port, odoo_port),
        '<img src="/web/content/999999"><img src=" /maildesk_canary/img-spaces ">'
        '<img src="/maildesk_&#99;anary/img-entity">',
        '<img srcset="/maildesk_canary/srcset 1x, %s/maildesk_canary/srcset-2x 2x">' % odoo,
        '<picture><source srcset="/maildesk_canary/picture-source"><img src="/maildesk_canary/picture-img"></picture>',
        '<table background="/maildesk_canary/table-background"><tr><td background="/maildesk_canary/td-background">'
        'cell</td></tr></table><body background="/maildesk_canary/body-background"><div>body</div>',
        '<link rel="stylesheet" href="/maildesk_canary/link.css"><link rel="prefetch" href="/maildesk_canary/prefetch">'
        '<link rel="preload" as="image" href="/maildesk_canary/preload"><link rel="icon" href="/maildesk_canary/icon">',
        '<meta http-equiv="refresh" content="0;url=/maildesk_canary/meta-refresh">',
        '<form action="/maildesk_canary/form"><input type="image" src="/maildesk_canary/input-image">'
        '<button formaction="/maildesk_canary/formaction">go</button></form>',
        '<a href="/maildesk_canary/link" ping="/maildesk_canary/ping">a link</a>',
        '<video poster="/maildesk_canary/poster" src="/maildesk_canary/video" autoplay muted></video>'
        '<audio src="/maildesk_canary/audio" autoplay></audio>',
        '<object data="/maildesk_canary/object"></object><embed src="/maildesk_canary/embed">',
        '<svg width="10" height="10"><image href="/maildesk_canary/svg-image" width="10" height="10"/>'
        '<image xlink:href="/maildesk_canary/svg-xlink"/><filter id="f"><feImage href="/maildesk_canary/feimage"/>'
        '</filter><use href="/maildesk_canary/use#a"/></svg>',
        '<style>@import "/maildesk_canary/import.css"; @import url(/maildesk_canary/import-url.css); '
        'p { background: url(/maildesk_canary/css-background) }</style><p>styled</p>',
        '<div style="background-image: url(/maildesk_canary/inline-style)">inline</div>'
        '<div style="border-image: url(%s/maildesk_canary/border-image) 30">border</div>' % odoo,
        '<iframe src="/maildesk_canary/iframe"></iframe><frameset><frame src="/maildesk_canary/frame"></frameset>',
        '<base href="%s/maildesk_canary/base/"><img src="relative-to-base.png">' % odoo,
    ]


class RemoteImages(http.server.ThreadingHTTPServer):
    """Another host's image server (127.0.0.1, reached as ``images.remote.test``): a PNG for any path."""

    daemon_threads = True

    def __init__(self, record):
        self.record = record

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # http.server's name
                record('remote', self.path)
                self.send_response(200)
                self.send_header('Content-Type', 'image/png')
                self.send_header('Cache-Control', 'no-store')
                self.end_headers()
                self.wfile.write(PNG_1X1)

            def log_message(self, *args):
                pass
        super().__init__(('127.0.0.1', 0), Handler)


class FetchGuardBrowser(XssGuardBrowser):
    """The XSS guard, plus ``images.remote.test`` resolved to 127.0.0.1."""

    def _spawn_chrome(self, cmd):
        return super()._spawn_chrome(cmd[:1] + ['--host-resolver-rules=MAP %s 127.0.0.1' % REMOTE_HOST] + cmd[1:])


FETCH_JS = r"""
(async () => {
    const cases = %(cases)s;
%(until)s    const frameOf = (index) => {
        for (const frame of document.querySelectorAll(".o-maildesk-BodyFrame-frame")) {
            const doc = frame.contentDocument;
            if (doc && doc.body && doc.body.textContent.includes("[fetch-case-" + index + "]")) { return frame; }
        }
        return null;
    };
    const loaded = (frame, selector) => [...frame.contentDocument.querySelectorAll(selector)]
        .filter((img) => img.complete && img.naturalWidth > 0).length;
    const failures = [];
    const store = await until(() => odoo.__WOWL_DEBUG__?.root?.env?.services?.["maildesk.store"], "the store");
    const env = odoo.__WOWL_DEBUG__.root.env;
    await until(() => document.querySelector(".o-maildesk-MessageList-row"), "the message list");
    // 1. bodies as stored (the server's confinement switched off for this phase): the frame's CSP alone
    for (const [index, item] of cases.entries()) {
        await store.openMessage(item.id);
        const frame = await until(() => frameOf(index), "body " + index);
        const csp = frame.contentDocument.querySelector('meta[http-equiv="Content-Security-Policy"]').content;
        if (!/default-src 'none'/.test(csp) || /'self'|\*/.test(csp)) { failures.push("CSP " + index + ": " + csp); }
        if (item.inline) { await until(() => loaded(frame, 'img[src^="/web/content/"]'), "inline image " + index); }
        await sleep(250);
        if (loaded(frame, 'img[src*="%(remote)s"]')) { failures.push("remote image before Show images " + index); }
    }
    await fetch("%(marker)s");  // the server confines bodies again from here on
    // 2. bodies as shown (confined at read time): "Show images" loads remote images, still nothing from Odoo
    for (const [index, item] of cases.entries()) {
        await store.openMessage(item.id);
        await until(() => frameOf(index), "body " + index + " again");
        const show = await until(() => document.querySelector(".o-maildesk-BodyFrame-showImages"), "Show images");
        show.click();
        await until(() => { const frame = frameOf(index); return frame && loaded(frame, 'img[src*="%(remote)s"]'); },
                    "remote image after Show images " + index);
        if (item.inline) { await until(() => loaded(frameOf(index), 'img[src^="/web/content/"]'), "inline " + index); }
    }
    // the message form's body field: the same frame, the same rules
    await env.services.action.doAction({ type: "ir.actions.act_window", res_model: "maildesk.message",
                                         res_id: cases[0].id, views: [[false, "form"]] });
    await until(() => frameOf(0), "the form's body");
    (await until(() => document.querySelector(".o-maildesk-BodyFrame-showImages"), "Show images in the form")).click();
    await until(() => { const frame = frameOf(0); return frame && loaded(frame, 'img[src*="%(remote)s"]'); },
                "remote image in the form");
    await sleep(1000);
    await env.services.orm.call("res.users", "search_count", [[]]);  // still signed in (no logout happened)
    if (failures.length) {
        console.error("fetch check failed: " + JSON.stringify(failures));
    } else {
        console.log("test successful");
    }
})();
"""


@tagged('post_install', '-at_install')
class TestFetchesInBrowser(MaildeskHttpCase):
    """Opening hostile mail makes no request to Odoo but the page's own and the message's inline images, and none
    elsewhere until "Show images"; then remote images load (a remote server counts them)."""

    emulator_options = {'users': 1, 'messages': 2}

    def test_bodies_fetch_nothing_from_odoo(self):
        self.env['ir.config_parameter'].sudo().set_param('maildesk.permission_level', 'read')
        account = self.make_account(user=self.env.ref('base.user_admin'))
        account.action_fetch_folders()
        events, lock, confine = [], threading.Lock(), {'on': False}

        def record(where, path):
            with lock:
                events.append((where, path))
            if where == 'odoo' and path.startswith(PHASE_MARKER):
                confine['on'] = True

        remote = RemoteImages(record)
        threading.Thread(target=remote.serve_forever, daemon=True).start()
        self.addCleanup(remote.server_close)
        self.addCleanup(remote.shutdown)
        remote_base = 'http://%s:%d' % (REMOTE_HOST, remote.server_address[1])
        netloc = self.base_url().split('//', 1)[1]
        payloads = fetch_payloads(netloc, int(netloc.rsplit(':', 1)[1]))
        for index, payload in enumerate(payloads):
            inline = index == 0
            self.emulator.deliver(account.email, subject='fetch case %d' % index, **{
                'from': {'name': 'Fetcher', 'address': 'f%d@evil.test' % index},
                'body': {'contentType': 'html', 'content': '<p>[fetch-case-%d]</p><img src="%s/remote/%d.png">%s%s' % (
                    index, remote_base, index, '<img src="cid:logo@fetch">' if inline else '', payload)},
                'attachments': [{'name': 'logo.png', 'contentType': 'image/png', 'isInline': True,
                                 'contentId': 'logo@fetch', 'contentBytes': base64.b64encode(PNG_1X1).decode()}]
                if inline else []})
        account.action_sync_now()
        messages = self.env['maildesk.message'].search([('account_id', '=', account.id),
                                                        ('from_address', '=like', 'f%@evil.test')])
        by_index = {int(m.from_address[1:].split('@')[0]): m for m in messages}
        self.assertEqual(sorted(by_index), list(range(len(payloads))))
        cases = [{'id': by_index[index].id, 'inline': index == 0} for index in range(len(payloads))]

        original_call, original_confine = odoo_http.Application.__call__, bodies.confine_urls

        def recording_call(app, environ, start_response):
            record('odoo', environ.get('PATH_INFO', '') + '?' + environ.get('QUERY_STRING', ''))
            return original_call(app, environ, start_response)

        def switchable_confine(html, *args, **kwargs):
            return original_confine(html, *args, **kwargs) if confine['on'] else Markup(html or '')

        browser_failure = None
        with patch.object(odoo_http.Application, '__call__', recording_call), \
                patch.object(bodies, 'confine_urls', switchable_confine), \
                patch.object(common, 'ChromeBrowser', FetchGuardBrowser):
            try:
                script = FETCH_JS % {'cases': json.dumps(cases), 'until': UNTIL_JS, 'remote': REMOTE_HOST,
                                     'marker': PHASE_MARKER}
                self.browser_js('/odoo/maildesk', script,
                                ready='!!(odoo.__WOWL_DEBUG__ && odoo.__WOWL_DEBUG__.root)', login='admin',
                                timeout=300)
            except AssertionError as exc:  # the requests below say more: checked first
                browser_failure = exc
        self.check_requests(events, bodies.inline_image_paths(by_index[0]), len(payloads))
        if browser_failure:
            raise browser_failure

    def check_requests(self, events, inline_paths, count):
        """What Odoo and the remote server received, before and after the phase marker ("Show images")."""
        self.assertEqual(len(inline_paths), 1)
        marker = next((i for i, (where, path) in enumerate(events) if where == 'odoo' and path.startswith(
            PHASE_MARKER)), len(events))
        for phase, part in (('before "Show images"', events[:marker]), ('after "Show images"', events[marker + 1:])):
            odoo_paths = [path.split('?')[0] for where, path in part if where == 'odoo']
            self.assertEqual([path for path in odoo_paths if CANARY in path or path == '/web/session/logout'], [],
                             'a body made the browser request Odoo (%s)' % phase)
            self.assertEqual({path for path in odoo_paths if path.startswith('/web/content/')} - inline_paths, set(),
                             'only the inline image of the message is fetched from Odoo (%s)' % phase)
            self.assertIn(next(iter(inline_paths)), odoo_paths, 'the inline image loads (%s)' % phase)
        self.assertEqual([path for where, path in events[:marker] if where == 'remote'], [],
                         'no remote image before "Show images"')
        self.assertEqual({path for where, path in events[marker + 1:] if where == 'remote'},
                         {'/remote/%d.png' % index for index in range(count)},
                         'after "Show images", every remote image loads')


@tagged('post_install', '-at_install')
class TestConfinedBodies(TransactionCase):
    """:func:`engine.bodies.confine_urls`: what survives in a stored or shown body."""

    def test_no_odoo_url_survives(self):
        hosts = {'127.0.0.1', 'odoo.example.com'}
        for payload in fetch_payloads('127.0.0.1:8069', 8069) + fetch_payloads('odoo.example.com', 443) + [
                '<img src="HTTPS://ODOO.EXAMPLE.COM./maildesk_canary/">', '<img src="http://[::1]/maildesk_canary/">',
                '<img src="https://evil.test\\@odoo.example.com/maildesk_canary/">',
                '<img src="https://odoo%2eexample.com/maildesk_canary/">', '<img src="http:/maildesk_canary/">',
                '<img src="https://\uff11\uff12\uff17.0.0.1/maildesk_canary/">', '<img src="ht\ttp://0/maildesk_canary/">',
                '<a href="javascript:alert(1)">j</a><a href="maildesk_canary/relative">r</a>']:
            body = str(bodies.sanitize_body(payload, {'/web/content/5'}, hosts))
            self.assertNotIn('maildesk_canary', body, payload)
            self.assertNotIn('logout', body, payload)
            self.assertNotIn('/web/content/999999', body, payload)

    def test_what_is_kept(self):
        kept = ['<img src="/web/content/5">', '<img src="https://images.example.net/a.png">',
                '<img src="data:image/png;base64,iVBORw0K">', '<img src="cid:unknown@x">',
                '<a href="https://odoo.example.com/odoo/action-1">a link</a>', '<a href="mailto:x@example.net">m</a>',
                '<p style="color:red">text</p>']
        for html in kept:
            self.assertEqual(str(bodies.confine_urls(html, {'/web/content/5'}, {'odoo.example.com'})), html)
        self.assertEqual(str(bodies.confine_urls('<img src=" https://images.example.net/b.png ">')),
                         '<img src="https://images.example.net/b.png">')
