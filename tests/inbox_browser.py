"""Headless Chromium for the inbox tours: screenshots on request, and the emulator's HTTPS accepted.

A tour step logs ``maildesk-screenshot:<name>``; the browser saves ``<name>.png`` into
``screenshot_dir`` and then marks ``<body data-maildesk-shot="<name>">`` so the tour goes on
(tours/maildesk_tour_utils.js: ``screenshotSteps``). The emulator serves HTTPS with its own CA, which
Chromium does not know: ``--ignore-certificate-errors`` is added (test browser only).
"""
import base64
import contextlib
import json
import os
from unittest.mock import patch

from odoo.tests import common

SCREENSHOT_SIGNAL = 'maildesk-screenshot:'
REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def screenshot_dir():
    """Where tour screenshots go: $MAILDESK_SCREENSHOT_DIR (e.g. docs/screenshots), else .tmp/screenshots."""
    path = os.environ.get('MAILDESK_SCREENSHOT_DIR') or os.path.join(REPO, '.tmp', 'screenshots')
    path = path if os.path.isabs(path) else os.path.join(REPO, path)
    os.makedirs(path, exist_ok=True)
    return path


class MaildeskChromeBrowser(common.ChromeBrowser):
    screenshot_dir = None
    page_hooks = ()  # callables(browser, url) run when the page navigates (e.g. the emulator's consent page)

    def _spawn_chrome(self, cmd):
        cmd = cmd[:1] + ['--ignore-certificate-errors'] + cmd[1:]
        return super()._spawn_chrome(cmd)

    def _handle_console(self, type, args=None, stackTrace=None, **kw):  # noqa: A002, N803 (CDP's names)
        if type == 'log' and args and str(args[0].get('value', '')).startswith(SCREENSHOT_SIGNAL):
            self._take_named_screenshot(args[0]['value'][len(SCREENSHOT_SIGNAL):])
            return None
        return super()._handle_console(type, args=args, stackTrace=stackTrace, **kw)

    def _take_named_screenshot(self, name):
        path = os.path.join(self.screenshot_dir or screenshot_dir(), '%s.png' % name)

        def saved(future):
            data = future.result(timeout=0)['data']
            with open(path, 'wb') as fh:
                fh.write(base64.b64decode(data))
            self._logger.info('MailDesk screenshot: %s', path)
            self._evaluate('document.body.dataset.maildeskShot = %s' % json.dumps(name))

        self._websocket_send('Page.captureScreenshot', params={'format': 'png'},
                             with_future=True).add_done_callback(saved)

    def _evaluate(self, expression):
        self._websocket_send('Runtime.evaluate', params={'expression': expression})

    def _handle_frame_navigated(self, frame, **kw):
        if not frame.get('parentId'):
            self._main_frame = (frame.get('id'), frame.get('url', ''))

    def _handle_frame_stopped_loading(self, frameId):  # noqa: N803 (Odoo's ChromeBrowser signature)
        super()._handle_frame_stopped_loading(frameId)
        main_id, url = getattr(self, '_main_frame', (None, ''))
        if frameId == main_id:
            for hook in self.page_hooks:
                hook(self, url)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._handlers['Page.frameNavigated'] = self._handle_frame_navigated
        self._handlers['Page.frameStoppedLoading'] = self._handle_frame_stopped_loading


@contextlib.contextmanager
def maildesk_browser(page_hooks=(), shots=None):
    """Make ``browser_js`` / ``start_tour`` use :class:`MaildeskChromeBrowser` inside the block."""
    browser_class = type('MaildeskChromeBrowserRun', (MaildeskChromeBrowser,),
                         {'page_hooks': tuple(page_hooks), 'screenshot_dir': shots})
    with patch.object(common, 'ChromeBrowser', browser_class):
        yield browser_class
