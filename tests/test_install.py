from odoo.tests import TransactionCase, tagged


@tagged('post_install', '-at_install')
class TestInstall(TransactionCase):
    """The module installs with its groups, menus and security in place."""

    def test_groups_hierarchy(self):
        user_group = self.env.ref('maildesk.group_maildesk_user')
        manager_group = self.env.ref('maildesk.group_maildesk_manager')
        self.assertEqual(user_group.category_id, self.env.ref('maildesk.module_category_maildesk'))
        self.assertIn(user_group, manager_group.implied_ids)
        # system administrators are MailDesk managers
        self.assertIn(manager_group, self.env.ref('base.group_system').implied_ids)
        self.assertIn(manager_group, self.env.ref('base.user_admin').groups_id)

    def test_menus_load(self):
        root = self.env.ref('maildesk.menu_maildesk_root')
        admin_menus = self.env['ir.ui.menu'].with_user(self.env.ref('base.user_admin'))._visible_menu_ids()
        self.assertIn(root.id, admin_menus)
        self.assertEqual(root.web_icon, 'maildesk,static/description/icon.png')
        # a user without the MailDesk groups does not see the app
        plain = self.env['res.users'].create({'name': 'Plain', 'login': 'plain_user_md',
                                              'groups_id': [(6, 0, [self.env.ref('base.group_user').id])]})
        self.assertNotIn(root.id, self.env['ir.ui.menu'].with_user(plain)._visible_menu_ids())

    def test_views_validate(self):
        views = self.env['ir.ui.view'].search([('model', 'like', 'maildesk.%')])
        self.assertTrue(views)
        for view in views:
            view._check_xml()


@tagged('post_install', '-at_install')
class TestSettingsDefaults(TransactionCase):
    """Sync settings never saved in Settings fall back to their documented defaults."""

    def test_unset_sync_settings_use_defaults(self):
        ICP = self.env['ir.config_parameter'].sudo()
        for key in ('maildesk.page_size', 'maildesk.backfill_months', 'maildesk.body_retention_days'):
            ICP.search([('key', '=', key)]).unlink()
        settings = self.env['maildesk.account']._maildesk_settings()
        self.assertEqual((settings['page_size'], settings['backfill_months'], settings['body_retention_days']),
                         (1000, 0, 30))
        ICP.set_param('maildesk.body_retention_days', '0')
        self.assertEqual(self.env['maildesk.account']._maildesk_settings()['body_retention_days'], 0)
