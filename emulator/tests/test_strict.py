"""Strict where Microsoft is strict, in every mode (graph-api.md §12): 4 MB requests, upload ranges, exact
redirect URIs, the token response's scope in Entra's form, AADSTS65001 as invalid_grant, identity-shaped faults,
typed PATCH values, Send As, and mailboxes without Exchange Online."""
import base64
import re

import msal
import requests

from emulator.testing import session
from emulator.tests.helpers import Graph
from emulator.tests.test_identity import REDIRECT, SCOPES, browser_consent, make_app

MB = 1024 * 1024


def test_request_over_4mb_is_413(emu, graph):
    big = {'subject': 'big', 'body': {'contentType': 'text', 'content': 'x' * (4 * MB)}}
    r = graph.post('/me/messages', json=big)
    assert r.status_code == 413  # O365/python-o365 issue 472: "The maximum request length supported is 4MB."
    assert r.json()['error']['message'] == 'The maximum request length supported is 4MB.'
    r = graph.post('/me/sendMail', data=b'A' * (4 * MB + 4), headers={'Content-Type': 'text/plain'})
    assert r.status_code == 413
    ok = graph.post('/me/messages', json={'subject': 'fits', 'body': {'contentType': 'text',
                                                                     'content': 'x' * (3 * MB)}})
    assert ok.status_code == 201


def test_upload_ranges_of_4mb_or_more_refused(emu, igraph):
    draft = igraph.ok('POST', '/me/messages', status=201, json={'subject': 'ranges'})
    size = 9 * MB
    sess = igraph.ok('POST', '/me/messages/%s/attachments/createUploadSession' % draft['id'], status=201,
                     json={'AttachmentItem': {'attachmentType': 'file', 'name': 'nine.bin', 'size': size}})
    url, data = sess['uploadUrl'], b'\x01' * size
    r = requests.put(url, data=data[:4 * MB], verify=emu.ca_bundle,
                     headers={'Content-Range': 'bytes 0-%d/%d' % (4 * MB - 1, size)})
    assert r.status_code == 413  # attachment-createuploadsession: "up to 4 MB each time"
    pos = 0
    step = 4 * MB - 1
    while pos < size:
        end = min(pos + step, size) - 1
        r = requests.put(url, data=data[pos:end + 1], verify=emu.ca_bundle,
                         headers={'Content-Range': 'bytes %d-%d/%d' % (pos, end, size)})
        assert r.status_code in (200, 201), r.text
        pos = end + 1
    assert r.status_code == 201


def _authorize(emu, redirect_uri):
    app = make_app(emu)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=redirect_uri)
    return session(emu.ca_bundle).get(flow['auth_uri'], allow_redirects=False)


def test_redirect_uri_must_be_registered_exactly(emu):
    for uri in ('https://evil.test/maildesk/oauth/callback',            # not registered
                'https://maildesk.test/MailDesk/oauth/callback',        # case-sensitive path
                'https://maildesk.test/maildesk/oauth/callback/',       # not the same string
                'http://maildesk.test/maildesk/oauth/callback',         # http only for localhost
                'http://odoo.local:8069/maildesk/oauth/callback'):
        r = _authorize(emu, uri)
        # reply-url restrictions: shown as the identity platform's error page, never redirected to
        assert r.status_code == 400 and 'AADSTS50011' in r.text, uri
        assert 'Location' not in r.headers
    for uri in ('http://localhost:8069/maildesk/oauth/callback', 'http://127.0.0.1:51234/maildesk/oauth/callback',
                REDIRECT):  # the port of a localhost URI is ignored
        r = _authorize(emu, uri)
        assert r.status_code == 200 and 'consent-form' in r.text, uri
    emu.config(redirect_uris=emu.control('GET', '/config')['redirect_uris'] + ['https://erp.example.com/cb'])
    assert _authorize(emu, 'https://erp.example.com/cb').status_code == 200


def test_token_scope_in_entra_form_makes_msal_refresh(emu):
    user = emu.users[1]
    app = make_app(emu)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT, login_hint=user)
    params, _ = browser_consent(emu, flow)
    result = app.acquire_token_by_auth_code_flow(flow, params)
    # short names in Entra's case, the OIDC extras, never offline_access (MicrosoftDocs/azure-docs issue 41925)
    assert result['scope'].split() == ['Mail.ReadWrite', 'Mail.Send', 'User.Read', 'email', 'openid', 'profile']
    before = emu.counters()['token']['total']
    account = app.get_accounts()[0]
    again = app.acquire_token_silent(SCOPES, account)
    # MSAL cached the token under the response's scope; the prefixed request is no subset of it, so every
    # silent call redeems the refresh token (AzureAD/microsoft-authentication-library-for-python issue 450)
    assert again['token_source'] == 'identity_provider'
    assert emu.counters()['token']['total'] == before + 1
    # asked for in the response's own form, the cached token is found
    assert app.acquire_token_silent(['Mail.ReadWrite', 'Mail.Send', 'User.Read'], account)['token_source'] == 'cache'
    # the consent stays with the user: a later sign-in for less gets every consented permission back
    flow = app.initiate_auth_code_flow(['https://graph.microsoft.com/Mail.Read'], redirect_uri=REDIRECT)
    params, _ = browser_consent(emu, flow, user=user)
    scope = app.acquire_token_by_auth_code_flow(flow, params)['scope'].split()
    assert {'Mail.Read', 'Mail.ReadWrite', 'Mail.Send', 'User.Read'} <= set(scope)


def test_identity_faults_are_flat_identity_errors(emu):
    rt = emu.token(refresh_token=True)['refresh_token']
    form = {'grant_type': 'refresh_token', 'refresh_token': rt, 'client_id': emu.client_id,
            'client_secret': emu.client_secret, 'scope': 'Mail.ReadWrite offline_access'}
    for rule, status, error, code in (({'status': 503, 'retry_after': '2'}, 503, 'temporarily_unavailable', 90033),
                                      ({'status': 429}, 429, 'temporarily_unavailable', 50196),
                                      ({'status': 400, 'code': '70000'}, 400, 'invalid_grant', 70000)):
        emu.faults(dict(rule, count=1, path_contains='/oauth2/v2.0/token'))
        r = requests.post(emu.authority + '/oauth2/v2.0/token', data=form, verify=emu.ca_bundle)
        body = r.json()
        assert r.status_code == status and body['error'] == error and body['error_codes'] == [code]
        assert body['error_description'].startswith('AADSTS%d:' % code)
        assert {'timestamp', 'trace_id', 'correlation_id'} <= set(body) and 'innerError' not in body
    emu.faults({'status': 400, 'count': 1, 'path_contains': '/oauth2/v2.0/token'})
    result = make_app(emu).acquire_token_by_refresh_token(rt, ['Mail.ReadWrite'])
    assert result['error'] == 'invalid_grant' and result['error_codes'] == [70000]  # what MSAL hands back
    assert 'access_token' in make_app(emu).acquire_token_by_refresh_token(rt, ['Mail.ReadWrite'])


def test_65001_is_invalid_grant_with_suberror(emu):
    rt = emu.token(refresh_token=True)['refresh_token']
    emu.control('POST', '/token_errors', {'scenario': '65001', 'count': 1})
    result = make_app(emu).acquire_token_by_refresh_token(rt, ['Mail.Read'])
    assert result['error'] == 'invalid_grant' and result['suberror'] == 'consent_required'
    assert result['error_codes'] == [65001]


def test_patch_values_are_typed(emu, igraph):
    mid = igraph.ok('GET', '/me/mailFolders/inbox/messages?$top=1&$select=id')['value'][0]['id']
    for body, code in (({'isRead': 'false'}, 'RequestBodyRead'), ({'isRead': 0}, 'RequestBodyRead'),
                       ({'isReadReceiptRequested': 'yes'}, 'RequestBodyRead'),
                       ({'categories': 'Red'}, 'RequestBodyRead'), ({'categories': [1]}, 'RequestBodyRead'),
                       ({'importance': 'urgent'}, 'RequestBodyRead'), ({'flag': 'flagged'}, 'RequestBodyRead'),
                       ({'flag': {'flagStatus': 'flagged', 'startDateTime': '2030-01-01T00:00:00Z',
                                  'dueDateTime': '2030-01-02T00:00:00Z'}}, 'RequestBodyRead'),
                       ({'flag': {'flagStatus': 'flagged', 'startDateTime': {'dateTime': 'soon', 'timeZone': 'UTC'},
                                  'dueDateTime': {'dateTime': 'later', 'timeZone': 'UTC'}}}, 'InvalidDateTime'),
                       ({'flag': {'flagStatus': 'flagged', 'dueDateTime': {'dateTime': '2030-01-02T00:00:00',
                                                                          'timeZone': 'UTC'}}},
                        'ErrorInvalidArgument')):
        r = igraph.patch('/me/messages/%s' % mid, json=body)
        assert r.status_code == 400 and r.json()['error']['code'] == code, (body, r.text)
    r = igraph.patch('/me/messages/%s' % mid, json={'isRead': 'false'})
    assert r.json()['error']['message'] == "Cannot convert the literal 'false' to the expected type 'Edm.Boolean'."
    ok = igraph.ok('PATCH', '/me/messages/%s' % mid, json={'isRead': False, 'flag': {
        'flagStatus': 'flagged', 'startDateTime': {'dateTime': '2030-01-01T09:00:00', 'timeZone': 'UTC'},
        'dueDateTime': {'dateTime': '2030-01-02T09:00:00', 'timeZone': 'UTC'}}})
    assert ok['isRead'] is False and ok['flag']['dueDateTime']['dateTime'] == '2030-01-02T09:00:00'


def test_from_must_be_the_mailbox_or_send_as(emu):
    user, other = emu.users[0], emu.users[1]
    g = Graph(emu, user=user, immutable=True)
    message = {'subject': 'as someone else', 'from': {'emailAddress': {'address': other}},
               'toRecipients': [{'emailAddress': {'address': 'x@fabrikam.test'}}]}
    r = g.post('/me/sendMail', json={'message': message})
    assert r.status_code == 403 and r.json()['error']['code'] == 'ErrorSendAsDenied'
    mime = 'From: %s\r\nTo: x@fabrikam.test\r\nSubject: MIME as other\r\n\r\nhi\r\n' % other
    r = g.post('/me/sendMail', data=base64.b64encode(mime.encode()), headers={'Content-Type': 'text/plain'})
    assert r.status_code == 403 and r.json()['error']['code'] == 'ErrorSendAsDenied'
    draft = g.ok('POST', '/me/messages', status=201, json=message)  # saving a draft is fine ...
    r = g.post('/me/messages/%s/send' % draft['id'])  # ... sending it is not
    assert r.status_code == 403 and r.json()['error']['code'] == 'ErrorSendAsDenied'
    same = dict(message, **{'from': {'emailAddress': {'name': 'Another Name', 'address': user.upper()}}})
    assert g.post('/me/sendMail', json={'message': same}).status_code == 202  # the mailbox itself, any name
    emu.mailbox(user, send_as=[other])  # a Send As grant in Exchange
    assert g.post('/me/sendMail', json={'message': message}).status_code == 202
    assert g.post('/me/messages/%s/send' % draft['id']).status_code == 202


def test_mailbox_not_enabled_for_rest(emu):
    user = emu.users[2]
    g = Graph(emu, user=user)
    emu.mailbox(user, exchange_online=False)
    assert g.get('/me').status_code == 200  # the directory user is there
    for path in ('/me/mailFolders', '/me/mailFolders/inbox/messages/delta', '/me/messages'):
        r = g.get(path)
        assert r.status_code == 404 and r.json()['error']['code'] == 'MailboxNotEnabledForRESTAPI'
        assert r.json()['error']['message'] == 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.'
    assert g.post('/me/sendMail', json={'message': {}}).status_code == 404
    assert Graph(emu, user=emu.users[1]).get('/me/mailFolders').status_code == 200  # others unaffected
    emu.neutral()
    assert g.get('/me/mailFolders').status_code == 200


def test_msal_sees_65001_as_invalid_grant(emu):
    """The real MSAL flow: a refresh asking for more than was consented."""
    app = make_app(emu)
    flow = app.initiate_auth_code_flow(['Mail.Read'], redirect_uri=REDIRECT, login_hint=emu.users[2])
    params, _ = browser_consent(emu, flow)
    rt = app.acquire_token_by_auth_code_flow(flow, params)['refresh_token']
    result = msal.ConfidentialClientApplication(
        emu.client_id, client_credential=emu.client_secret, authority=emu.authority, instance_discovery=False,
        http_client=session(emu.ca_bundle)).acquire_token_by_refresh_token(rt, ['Mail.Send'])
    assert result['error'] == 'invalid_grant' and result.get('suberror') == 'consent_required'
    assert re.match(r'AADSTS65001: ', result['error_description'])
