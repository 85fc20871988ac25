"""The inbox in a real browser: the hoot unit tests of static/tests and the tours, in headless Chromium."""
import os

from odoo.tests import HttpCase, tagged

from .inbox_browser import maildesk_browser, screenshot_dir
from .inbox_data import seed_inbox


@tagged('post_install', '-at_install')
class TestInboxHoot(HttpCase):
    """static/tests/**/*.test.js: the client action, store, list, reading pane, against mock models."""

    def test_hoot_suite(self):
        self.browser_js('/web/tests?headless&loglevel=2&preset=desktop&timeout=15000&filter=%2F%5E%40maildesk%2F',
                        '', '', login='admin', timeout=600, success_signal='[HOOT] test suite succeeded',
                        error_checker=lambda message: '[HOOT]' not in message
                        or message == '[HOOT] test failed (see above for details)')


@tagged('post_install', '-at_install')
class TestInboxTour(HttpCase):
    """The seeded inbox (no Graph): folders, a message and its body, filters, search, conversations, tags,
    keyboard, the settings gear and the account form; screenshots of the main screens."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ICP = cls.env['ir.config_parameter'].sudo()
        ICP.set_param('maildesk.permission_level', 'read')
        # an Entra app is configured (no request is made with it on this path)
        ICP.set_param('maildesk.client_id', '6731de76-14a6-49ae-97bc-6eba6914391e')
        ICP.set_param('maildesk.client_secret', 'not-used-by-this-tour')
        cls.data = seed_inbox(cls.env, messages=60)
        cls.env.ref('base.user_admin').tz = 'Europe/Brussels'

    def test_inbox_tour(self):
        shots = screenshot_dir()
        for name in ('inbox', 'account_form_seeded', 'settings'):
            if os.path.exists(os.path.join(shots, '%s.png' % name)):
                os.unlink(os.path.join(shots, '%s.png' % name))
        with maildesk_browser(shots=shots):
            self.start_tour('/odoo/maildesk', 'maildesk_inbox_tour', login='admin', timeout=180)
        welcome = self.data['messages'][0]
        self.assertTrue(welcome.is_read, 'opening the message in the browser marked it read')
        urgent = self.data['messages'][1]
        self.assertEqual(urgent.flag_status, 'flagged', '"s" flagged the message opened with "j"')
        for name in ('inbox', 'account_form_seeded', 'settings'):
            path = os.path.join(shots, '%s.png' % name)
            self.assertTrue(os.path.getsize(path) > 10000, 'screenshot %s saved' % name)

    def test_narrow_screen_stacks_panes(self):
        self.browser_size = '390x844'
        self.touch_enabled = True
        with maildesk_browser(shots=screenshot_dir()):
            self.start_tour('/odoo/maildesk', 'maildesk_narrow_tour', login='admin', timeout=120)
