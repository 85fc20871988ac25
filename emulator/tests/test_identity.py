"""Identity platform with real MSAL (ConfidentialClientApplication, instance_discovery=False) - graph-api.md §8/§9."""
import re
from urllib.parse import parse_qs, urlsplit

import msal
import pytest
import requests

from emulator.testing import session

SCOPES = ['https://graph.microsoft.com/Mail.ReadWrite', 'https://graph.microsoft.com/Mail.Send',
          'https://graph.microsoft.com/User.Read']
REDIRECT = 'https://maildesk.test/maildesk/oauth/callback'


def make_app(emu, secret=None, **kw):
    kw.setdefault('instance_discovery', False)
    return msal.ConfidentialClientApplication(emu.client_id, client_credential=secret or emu.client_secret,
                                              authority=emu.authority, http_client=session(emu.ca_bundle), **kw)


def browser_consent(emu, flow, user=None, decision='accept'):
    """Drive the emulated sign-in page like a browser: GET auth_uri, submit the form, read the redirect."""
    http = session(emu.ca_bundle)
    page = http.get(flow['auth_uri'], allow_redirects=False)
    assert page.status_code == 200 and 'id="consent-form"' in page.text
    action = re.search(r'<form id="consent-form" method="POST" action="([^"]+)"', page.text).group(1)
    hidden = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
    selected = re.search(r'<option value="([^"]+)" selected>', page.text)
    form = {'request': hidden, 'user': user or (selected.group(1) if selected else emu.users[0]), 'decision': decision}
    resp = http.post(action, data=form, allow_redirects=False)
    assert resp.status_code == 302, resp.text[:300]
    location = resp.headers['Location']
    assert location.startswith(flow['redirect_uri'] + '?')
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}, page.text


def signed_in(emu, user=None, scopes=SCOPES, app=None):
    app = app or make_app(emu)
    flow = app.initiate_auth_code_flow(scopes, redirect_uri=REDIRECT, login_hint=user)
    params, _ = browser_consent(emu, flow)
    return app, flow, params


def test_openid_configuration_per_tenant(emu):
    http = session(emu.ca_bundle)
    for tenant in ('common', 'organizations', 'consumers', emu.info['tenant_id'], 'contoso.test'):
        r = http.get('%s/%s/v2.0/.well-known/openid-configuration' % (emu.base_url, tenant))
        assert r.status_code == 200
        doc = r.json()
        for key in ('authorization_endpoint', 'token_endpoint', 'issuer', 'jwks_uri'):
            assert key in doc
        assert doc['token_endpoint'] == '%s/%s/oauth2/v2.0/token' % (emu.base_url, tenant)
    assert '{tenantid}' in http.get(emu.base_url + '/common/v2.0/.well-known/openid-configuration').json()['issuer']
    r = http.get(emu.base_url + '/00000000-1111-2222-3333-444444444444/v2.0/.well-known/openid-configuration')
    assert r.status_code == 400 and r.json()['error_codes'] == [90002]


def test_instance_discovery_endpoint_and_msal_default_discovery(emu):
    http = session(emu.ca_bundle)
    r = http.get(emu.base_url + '/common/discovery/instance', params={
        'api-version': '1.1', 'authorization_endpoint': emu.authority + '/oauth2/v2.0/authorize'})
    body = r.json()
    assert body['tenant_discovery_endpoint'] == emu.authority + '/v2.0/.well-known/openid-configuration'
    assert body['metadata'][0]['aliases'] == [urlsplit(emu.base_url).netloc]
    bad = http.get(emu.base_url + '/common/discovery/instance',
                   params={'authorization_endpoint': 'https://evil.test/common/oauth2/v2.0/authorize'})
    assert bad.status_code == 400 and bad.json()['error'] == 'invalid_instance'

    # MSAL with instance discovery ON sends it to login.microsoftonline.com; route that host to the emulator
    class Rewriting(type(session(emu.ca_bundle))):
        seen = []

        def request(self, method, url, **kw):
            self.seen.append(url)
            return super().request(method, url.replace('https://login.microsoftonline.com', emu.base_url), **kw)
    client = Rewriting()
    msal.ConfidentialClientApplication(emu.client_id, client_credential=emu.client_secret,
                                       authority=emu.authority, http_client=client)
    assert any('/common/discovery/instance' in u for u in client.seen)
    assert any(u.endswith('/v2.0/.well-known/openid-configuration') for u in client.seen)


def test_auth_code_pkce_consent_page_and_login_hint(emu):
    app = make_app(emu)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT, login_hint=emu.users[1])
    params, page = browser_consent(emu, flow)
    assert '<option value="%s" selected>' % emu.users[1] in page
    assert 'id="accept"' in page and 'id="cancel"' in page
    assert set(params) == {'code', 'state', 'client_info', 'session_state'}
    assert params['state'] == flow['state']
    result = app.acquire_token_by_auth_code_flow(flow, params)  # MSAL checks state + the id_token nonce
    assert 'access_token' in result, result
    assert result['id_token_claims']['preferred_username'] == emu.users[1]
    assert result['id_token_claims']['aud'] == emu.client_id
    assert result['token_type'] == 'Bearer' and result['expires_in'] == 3599
    assert 'refresh_token' in result
    accounts = app.get_accounts()
    assert accounts and accounts[0]['username'] == emu.users[1]
    me = requests.get(emu.graph_url + '/me', headers={'Authorization': 'Bearer ' + result['access_token']},
                      verify=emu.ca_bundle).json()
    assert me['userPrincipalName'] == emu.users[1]


def test_cancel_redirects_access_denied(emu):
    app = make_app(emu)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT)
    params, _ = browser_consent(emu, flow, decision='cancel')
    assert params['error'] == 'access_denied' and 'AADSTS65004' in params['error_description']
    assert params['state'] == flow['state']
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert result['error'] == 'access_denied'


def test_form_post_and_auto_consent(emu):
    emu.consent('accept', emu.users[2])
    app = make_app(emu)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT, response_mode='form_post')
    r = session(emu.ca_bundle).get(flow['auth_uri'], allow_redirects=False)
    assert r.status_code == 200 and 'document.forms[0].submit()' in r.text and REDIRECT in r.text
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', r.text))
    assert fields['state'] == flow['state']
    result = app.acquire_token_by_auth_code_flow(flow, fields)
    assert result['id_token_claims']['preferred_username'] == emu.users[2]
    emu.consent('cancel')
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT)
    r = session(emu.ca_bundle).get(flow['auth_uri'], allow_redirects=False)
    assert r.status_code == 302 and 'error=access_denied' in r.headers['Location']


def test_authorize_validation(emu):
    http = session(emu.ca_bundle)
    base = emu.authority + '/oauth2/v2.0/authorize'
    r = http.get(base, params={'client_id': 'nope', 'response_type': 'code', 'redirect_uri': REDIRECT,
                               'scope': 'openid'}, allow_redirects=False)
    assert r.status_code == 400 and 'AADSTS700016' in r.text
    r = http.get(base, params={'client_id': emu.client_id, 'response_type': 'code', 'redirect_uri': REDIRECT,
                               'scope': 'openid Mail.Bogus', 'state': 's1'}, allow_redirects=False)
    q = parse_qs(urlsplit(r.headers['Location']).query)
    assert q['error'] == ['invalid_scope'] and q['state'] == ['s1']
    r = http.get(base, params={'client_id': emu.client_id, 'response_type': 'token', 'redirect_uri': REDIRECT,
                               'scope': 'openid'}, allow_redirects=False)
    assert 'unsupported_response_type' in r.headers['Location']


def test_refresh_rotation_old_token_still_valid(emu):
    app, flow, params = signed_in(emu)
    first = app.acquire_token_by_auth_code_flow(flow, params)
    rt1 = first['refresh_token']
    account = app.get_accounts()[0]
    second = app.acquire_token_silent(SCOPES, account, force_refresh=True)
    assert second and second['access_token'] != first['access_token']
    rt2 = second['refresh_token']
    assert rt2 != rt1  # graph-api.md §8.6: rotated on every use ...
    again = make_app(emu).acquire_token_by_refresh_token(rt1, SCOPES)
    assert 'access_token' in again, again  # ... and the old one is not revoked
    counters = emu.counters()['token']
    assert counters['by_grant']['refresh_token'] >= 2 and counters['by_grant']['authorization_code'] >= 1


def _assert_error(result, error, code):
    assert result.get('error') == error, result
    assert result['error_codes'] == [code]
    assert result['error_description'].startswith('AADSTS%d:' % code)
    assert result['trace_id'] and result['correlation_id'] and result['timestamp']


def test_code_is_one_time_54005(emu):
    app, flow, params = signed_in(emu)
    assert 'access_token' in app.acquire_token_by_auth_code_flow(dict(flow), params)
    _assert_error(make_app(emu).acquire_token_by_auth_code_flow(dict(flow), params), 'invalid_grant', 54005)


def test_expired_code_70008(emu):
    emu.config(code_lifetime=0)
    app, flow, params = signed_in(emu)
    _assert_error(app.acquire_token_by_auth_code_flow(flow, params), 'invalid_grant', 70008)


def test_pkce_mismatch_501481_and_redirect_mismatch_50011(emu):
    app, flow, params = signed_in(emu)
    bad = dict(flow, code_verifier='x' * 43)
    _assert_error(app.acquire_token_by_auth_code_flow(bad, params), 'invalid_grant', 501481)
    app, flow, params = signed_in(emu)
    bad = dict(flow, redirect_uri='https://elsewhere.test/cb')
    _assert_error(app.acquire_token_by_auth_code_flow(bad, params), 'invalid_request', 50011)


def test_wrong_secret_7000215_is_http_401(emu):
    app, flow, params = signed_in(emu, app=make_app(emu, secret='not-the-secret'))
    _assert_error(app.acquire_token_by_auth_code_flow(flow, params), 'invalid_client', 7000215)
    r = requests.post(emu.authority + '/oauth2/v2.0/token', verify=emu.ca_bundle,
                      data={'grant_type': 'refresh_token', 'refresh_token': 'x', 'client_id': emu.client_id,
                            'client_secret': 'wrong'})
    assert r.status_code == 401 and r.json()['error'] == 'invalid_client'


def test_client_secret_via_basic_auth(emu):
    rt = emu.token(refresh_token=True)['refresh_token']
    r = requests.post(emu.authority + '/oauth2/v2.0/token', verify=emu.ca_bundle,
                      auth=(emu.client_id, emu.client_secret),
                      data={'grant_type': 'refresh_token', 'refresh_token': rt, 'scope': 'Mail.ReadWrite openid'})
    assert r.status_code == 200, r.text
    body = r.json()
    # graph-api.md §12: Entra's form - short Graph names, plus the OIDC extras (offline_access never listed)
    assert {'Mail.ReadWrite', 'email', 'openid', 'profile'} <= set(body['scope'].split())
    assert 'offline_access' not in body['scope'] and 'https://' not in body['scope']
    assert 'id_token' in body and 'refresh_token' not in body


def test_revoked_50173_and_inactive_700082(emu):
    app, flow, params = signed_in(emu, user=emu.users[1])
    rt = app.acquire_token_by_auth_code_flow(flow, params)['refresh_token']
    emu.control('POST', '/revoke', {'user': emu.users[1]})
    _assert_error(make_app(emu).acquire_token_by_refresh_token(rt, SCOPES), 'invalid_grant', 50173)
    app, flow, params = signed_in(emu, user=emu.users[1])
    rt = app.acquire_token_by_auth_code_flow(flow, params)['refresh_token']  # a new sign-in works again
    emu.config(refresh_token_lifetime=0)
    _assert_error(make_app(emu).acquire_token_by_refresh_token(rt, SCOPES), 'invalid_grant', 700082)


def test_more_scopes_than_consented_65001(emu):
    app, flow, params = signed_in(emu, scopes=['Mail.Read'])
    rt = app.acquire_token_by_auth_code_flow(flow, params)['refresh_token']
    result = make_app(emu).acquire_token_by_refresh_token(rt, ['Mail.Send'])
    _assert_error(result, 'invalid_grant', 65001)  # graph-api.md §12: invalid_grant + suberror consent_required
    assert result['suberror'] == 'consent_required'


@pytest.mark.parametrize('scenario,error', [('70008', 'invalid_grant'), ('700082', 'invalid_grant'),
                                            ('50173', 'invalid_grant'), ('54005', 'invalid_grant'),
                                            ('65001', 'invalid_grant'), ('50076', 'interaction_required'),
                                            ('7000215', 'invalid_client')])
def test_injected_token_errors(emu, scenario, error):
    rt = emu.token(emu.users[2], refresh_token=True)['refresh_token']
    emu.control('POST', '/token_errors', {'scenario': scenario, 'count': 1, 'user': emu.users[2],
                                          'grant_type': 'refresh_token'})
    app = make_app(emu)
    _assert_error(app.acquire_token_by_refresh_token(rt, SCOPES), error, int(scenario))
    assert 'access_token' in make_app(emu).acquire_token_by_refresh_token(rt, SCOPES)  # count=1: next succeeds


def test_access_token_lifetime_and_401(emu):
    emu.config(token_lifetime=1)
    app, flow, params = signed_in(emu)
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert result['expires_in'] == 1
    import time
    time.sleep(1.3)
    r = requests.get(emu.graph_url + '/me', headers={'Authorization': 'Bearer ' + result['access_token']},
                     verify=emu.ca_bundle)
    assert r.status_code == 401
    assert r.json()['error']['code'] == 'InvalidAuthenticationToken'
    assert 'expired' in r.json()['error']['message']
    assert r.headers['WWW-Authenticate'].startswith('Bearer realm=""')


def test_token_endpoint_faults_reach_msal(emu):
    rt = emu.token(refresh_token=True)['refresh_token']
    emu.faults({'status': 503, 'count': 1, 'retry_after': '1', 'path_contains': '/oauth2/v2.0/token'})
    # graph-api.md §9.8: a token-endpoint answer >= 500 is raised (HTTPError; MsalServiceError in msal 1.39)
    with pytest.raises((requests.exceptions.HTTPError, msal.exceptions.MsalServiceError)):
        make_app(emu).acquire_token_by_refresh_token(rt, SCOPES)
    emu.faults({'status': 'drop', 'count': 1, 'path_contains': '/oauth2/v2.0/token'})
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(emu.authority + '/oauth2/v2.0/token', data={}, verify=emu.ca_bundle)
    assert 'access_token' in make_app(emu).acquire_token_by_refresh_token(rt, SCOPES)


def test_another_identity_behind_the_same_address(emu):
    """/_emulator/identity: the same address, another Entra object id and tenant (a recreated user, another
    tenant): client_info, the id_token and /me all say so; neutral() restores the seeded identity."""
    def sign_in():
        app, flow, params = signed_in(emu, user=emu.users[0])
        result = app.acquire_token_by_auth_code_flow(flow, params)
        me = requests.get(emu.graph_url + '/me', headers={'Authorization': 'Bearer ' + result['access_token']},
                          verify=emu.ca_bundle).json()
        return result['id_token_claims'], app.get_accounts()[0]['home_account_id'], me

    claims, home, me = sign_in()
    seeded = (claims['oid'], claims['tid'])
    assert home == '%s.%s' % seeded and me['id'] == claims['oid']
    new_oid, new_tid = '0badc0de-0000-4000-8000-000000000001', '0badc0de-0000-4000-8000-0000000000aa'
    assert emu.set_identity(emu.users[0], oid=new_oid, tid=new_tid) == {
        'user': emu.users[0], 'oid': new_oid, 'tid': new_tid}
    claims, home, me = sign_in()
    assert (claims['oid'], claims['tid'], claims['preferred_username']) == (new_oid, new_tid, emu.users[0])
    assert home == '%s.%s' % (new_oid, new_tid) and me['id'] == new_oid and me['mail'] == emu.users[0]
    emu.neutral()
    claims, home, _me = sign_in()
    assert (claims['oid'], claims['tid']) == seeded
