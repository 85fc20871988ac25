"""A gateway mailbox on the Microsoft emulator, set up inside an ``odoo shell`` (make demo's CRM part, the gateway
bench): MailDesk's settings, an account authorized through the real MSAL flow, its incoming server routing to a
model, Inbox and Sent Items synchronized. Imported by the shell script (``sys.path`` has tools/)."""
from urllib.parse import parse_qsl, urlsplit

import requests


def emulator_control(info, path, body):
    response = requests.post(info['base_url'] + '/_emulator' + path, json=body, verify=info['ca_bundle'],
                             timeout=300)
    response.raise_for_status()
    return response.json() if response.content else None


def gateway_mailbox(env, info, email, model, name=None, outgoing=False, owner=None):
    """The account of ``email`` (an emulator mailbox), authorized, with a confirmed incoming server creating
    ``model`` records (and an outgoing server if asked), folders fetched, Inbox + Sent Items synced. Commits."""
    from odoo.addons.maildesk.tests.common import html_form

    settings = {
        'maildesk.client_id': info['client_id'], 'maildesk.client_secret': info['client_secret'],
        'maildesk.tenant': 'common', 'maildesk.cloud': 'custom', 'maildesk.authority_url': info['authority'],
        'maildesk.graph_url': info['graph_url'], 'maildesk.ca_bundle': info['ca_bundle'],
        'maildesk.permission_level': 'write',
    }
    for key, value in settings.items():
        env['ir.config_parameter'].set_param(key, value)
    account = env['maildesk.account'].create(dict({'name': name or email, 'email': email},
                                                  **({'user_id': owner.id} if owner else {})))
    flow = account._start_authorization()
    emulator_control(info, '/consent', {'auto': 'accept', 'user': email})
    answer = requests.get(flow['auth_uri'], allow_redirects=False, verify=info['ca_bundle'], timeout=60)
    emulator_control(info, '/consent', {'auto': None, 'user': None})
    if answer.status_code in (301, 302, 303):
        params = dict(parse_qsl(urlsplit(answer.headers['Location']).query))
    else:
        params = html_form(answer.text)[1]
    account._finish_authorization(flow, params)
    server = env['fetchmail.server'].create({
        'name': name or email, 'server_type': 'maildesk_graph', 'maildesk_account_id': account.id,
        'maildesk_route_mail': True, 'object_id': env['ir.model']._get_id(model)})
    server.button_confirm_login()
    if outgoing:
        env['ir.mail_server'].create({'name': name or email, 'smtp_authentication': 'maildesk_graph',
                                      'maildesk_account_id': account.id, 'from_filter': email})
    account.action_fetch_folders()
    account.folder_ids.filtered(lambda f: f.role in ('inbox', 'sentitems')).sync_enabled = True
    env.cr.commit()
    account._sync_round(budget=120)
    env.cr.commit()
    return account, server
