"""Translations: the committed template is what Odoo exports today, and a German user sees MailDesk in German."""
import io
import os
import re
from unittest.mock import patch

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools import file_open
from odoo.tools.translate import trans_export

LANG = 'de_DE'
_walk = os.walk


def _addon_walk(top, *args, **kwargs):
    """``os.walk`` without hidden folders, as ``make pot`` exports a copy without them: the exporter follows links,
    and the test runner's .tmp/ links back to the checkout."""
    for root, folders, files in _walk(top, *args, **kwargs):
        folders[:] = [name for name in folders if not name.startswith('.') and name != '__pycache__']
        yield root, folders, files


def exported_terms(cr):
    """The msgids Odoo's exporter finds in maildesk now (what ``make pot`` writes)."""
    with io.BytesIO() as buffer, patch('os.walk', _addon_walk):
        trans_export(None, ['maildesk'], buffer, 'po', cr)
        return {entry.msgid for entry in polib.pofile(buffer.getvalue().decode())}


def committed_catalog(name):
    with file_open(f'maildesk/i18n/{name}') as handle:
        return polib.pofile(handle.read())


@tagged('post_install', '-at_install')
class TestPotUpToDate(TransactionCase):

    def test_template_has_every_term_and_no_other(self):
        exported = exported_terms(self.env.cr)
        committed = {entry.msgid for entry in committed_catalog('maildesk.pot')}
        self.assertGreater(len(exported), 100, 'the exporter found MailDesk\'s terms')
        missing, gone = sorted(exported - committed), sorted(committed - exported)
        self.assertFalse(missing or gone, 'i18n/maildesk.pot is stale: run `make pot`.\nmissing: %s\nno longer '
                         'used: %s' % (missing[:20], gone[:20]))

    def test_translations_are_valid_for_their_terms(self):
        """Every translation keeps the placeholders of its term (a dropped %(name)s breaks the message)."""
        placeholders = re.compile(r'%\(\w+\)[sd]|%[sd]')
        for name in ('de.po', 'fr.po', 'nl.po', 'es.po'):
            for entry in committed_catalog(name).translated_entries():
                self.assertEqual(sorted(placeholders.findall(entry.msgid)), sorted(placeholders.findall(entry.msgstr)),
                                 '%s: %r' % (name, entry.msgid))


@tagged('post_install', '-at_install')
class TestGermanInterface(TransactionCase):
    """A user switched to German: the inbox (menu, JS strings), the account form and the settings."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env['res.lang']._activate_lang(LANG)
        cls.env['ir.module.module']._load_module_terms(['maildesk'], [LANG], overwrite=True)
        cls.user = cls.env['res.users'].create({
            'name': 'Deutsche Nutzerin', 'login': 'md_i18n_de', 'lang': LANG,
            'groups_id': [(4, cls.env.ref('maildesk.group_maildesk_manager').id),
                          (4, cls.env.ref('base.group_system').id)]})
        cls.german = cls.env(user=cls.user, context={'lang': LANG})
        cls.de = {entry.msgid: entry.msgstr for entry in committed_catalog('de.po').translated_entries()}

    def german_of(self, term):
        self.assertIn(term, self.de, 'de.po translates %r' % term)
        return self.de[term]

    def test_account_form_in_german(self):
        labels = self.german['maildesk.account'].fields_get(['name', 'email', 'state'], ['string', 'selection'])
        self.assertEqual(labels['name']['string'], self.german_of('Account Name'))
        self.assertEqual(labels['email']['string'], self.german_of('Email Address'))
        self.assertIn(self.german_of('Invalid OAuth Configuration'), dict(labels['state']['selection']).values())
        arch = self.german['maildesk.account'].get_view(self.env.ref('maildesk.maildesk_account_view_form').id)['arch']
        self.assertIn(self.german_of('Authorize Outlook'), arch)
        self.assertNotIn('string="Authorize Outlook"', arch)

    def test_settings_in_german(self):
        view = self.env.ref('base.res_config_settings_view_form')
        arch = self.german['res.config.settings'].get_view(view.id)['arch']
        self.assertIn(self.german_of('Microsoft Entra ID application'), arch)
        self.assertIn(self.german_of('App credentials'), arch)
        labels = self.german['res.config.settings'].fields_get(['maildesk_client_id', 'maildesk_permission_level'],
                                                               ['string'])
        self.assertEqual(labels['maildesk_client_id']['string'], self.german_of('Microsoft Client ID'))
        self.assertEqual(labels['maildesk_permission_level']['string'], self.german_of('Mailbox Permission'))

    def test_inbox_menu_and_js_strings_in_german(self):
        menus = self.german['ir.ui.menu'].search([('id', 'child_of', self.env.ref('maildesk.menu_maildesk_root').id)])
        self.assertIn(self.german_of('Mailbox Accounts'), menus.mapped('name'))
        translations = self.german['ir.http'].get_translations_for_webclient(['maildesk'], LANG)[0]
        messages = {message['id']: message['string'] for message in translations['maildesk']['messages']}
        for term in ('All mailboxes', 'Compose', 'Reply all'):
            self.assertEqual(messages.get(term), self.german_of(term), term)
