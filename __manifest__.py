{
    'name': 'MailDesk',
    'version': '18.0.1.0.0',
    'summary': 'Outlook.com and Microsoft 365 mailboxes inside Odoo, through Microsoft Graph',
    'description': """
MailDesk brings Outlook.com and Microsoft 365 mailboxes into Odoo through Microsoft Graph:
OAuth 2.0 (auth code + PKCE) with MSAL, per-folder delta sync newest first with progressive
backfill, bodies fetched on open, sending through Graph, and a three-pane inbox.
""",
    'category': 'Productivity/Discuss',
    'author': 'MailDesk',
    'license': 'LGPL-3',
    'depends': ['mail'],
    'external_dependencies': {'python': ['msal', 'requests', 'python-dateutil']},
    'data': [
        'security/maildesk_security.xml',
        'security/ir.model.access.csv',
        'security/maildesk_draft_security.xml',
        'data/ir_cron_data.xml',
        'views/maildesk_account_views.xml',
        'views/maildesk_folder_views.xml',
        'views/maildesk_message_views.xml',
        'views/maildesk_draft_views.xml',
        'views/maildesk_message_actions_views.xml',
        'views/maildesk_log_record_views.xml',
        'views/maildesk_tag_views.xml',
        'views/fetchmail_server_views.xml',
        'views/ir_mail_server_views.xml',
        'views/res_config_settings_views.xml',
        'views/maildesk_templates.xml',
        'views/maildesk_inbox_views.xml',
        'views/maildesk_menus.xml',
        'views/maildesk_draft_menus.xml',
    ],
    'assets': {
        'web.assets_backend': [
            'maildesk/static/src/**/*',
        ],
        'web.assets_unit_tests': [
            'maildesk/static/tests/**/*',
            ('remove', 'maildesk/static/tests/tours/**/*'),
        ],
        'web.assets_tests': [
            'maildesk/static/tests/tours/**/*',
        ],
    },
    'application': True,
    'installable': True,
}
