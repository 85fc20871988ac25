"""identity.py against the emulator's identity platform, with the real MSAL library (nothing mocked)."""
import json
import socket

import pytest

from graph import identity
from graph.client import GraphClient
from graph.errors import AuthInvalid, FlowMismatch, Transient

from .conftest import REDIRECT_URI, AccountTokens, authorize, build_app, consent_via_page


def refresh_tokens_in(state):
    return sorted(entry['secret'] for entry in json.loads(state).get('RefreshToken', {}).values())


# ------------------------------------------------------------------ pure helpers

def test_graph_scopes_follow_the_graph_host():
    assert identity.graph_scopes(False, 'https://graph.microsoft.com/v1.0') == [
        'https://graph.microsoft.com/Mail.Read', 'https://graph.microsoft.com/Mail.Send',
        'https://graph.microsoft.com/User.Read']
    assert identity.graph_scopes(True, 'https://graph.microsoft.us/v1.0/')[0] == 'https://graph.microsoft.us/Mail.ReadWrite'
    assert identity.graph_scopes(True, 'https://127.0.0.1:8443/v1.0')[0] == 'https://127.0.0.1:8443/Mail.ReadWrite'
    for scope in identity.graph_scopes(True, 'https://graph.microsoft.com/v1.0'):
        assert scope.rsplit('/', 1)[1] not in identity.RESERVED_SCOPES


@pytest.mark.parametrize('authority, discovery_off', [
    ('https://login.microsoftonline.com/common', False), ('https://LOGIN.microsoftonline.us/tenant', False),
    ('https://login.chinacloudapi.cn/x', False), ('https://login.partner.microsoftonline.cn/x', False),
    ('https://login-us.microsoftonline.com/x', False), ('https://127.0.0.1:8443/common', True),
    ('https://login.microsoftonline.com.evil.test/common', True),
])
def test_instance_discovery_only_for_microsoft_hosts(authority, discovery_off):
    assert (identity.msal_options(authority) == {'instance_discovery': False}) is discovery_off


@pytest.mark.parametrize('result, kind, transient', [
    ({'error': 'invalid_grant', 'error_codes': [70008]}, 'invalid_grant', False),
    ({'error': 'invalid_grant', 'error_codes': [65001]}, 'consent_required', False),
    ({'error': 'interaction_required', 'error_codes': [50076]}, 'interaction_required', False),
    ({'error': 'consent_required'}, 'consent_required', False),
    ({'error': 'invalid_client', 'error_codes': [7000215]}, 'invalid_client', False),
    ({'error': 'unauthorized_client', 'error_codes': [700016]}, 'invalid_client', False),
    ({'error': 'access_denied'}, 'access_denied', False),
    ({'error': 'invalid_scope'}, 'other', False),
    ({'error': 'temporarily_unavailable'}, None, True),
    ({'error': 'server_error'}, None, True),
])
def test_auth_error_kinds(result, kind, transient):
    description = 'AADSTS1: first line.\r\nTrace ID: abc\r\nCorrelation ID: d'
    error = identity.auth_error(dict(result, error_description=description))
    if transient:
        assert isinstance(error, Transient)
        return
    assert isinstance(error, AuthInvalid) and error.kind == kind
    assert error.error_codes == result.get('error_codes', [])
    assert 'Trace ID' not in str(error) and 'first line.' in str(error)


# ------------------------------------------------------------------ auth-code flow

def test_auth_code_flow_through_the_consent_page(emu):
    user = emu.users[0]
    app = build_app(emu)  # instance discovery off: otherwise MSAL would call login.microsoftonline.com here
    scopes = identity.graph_scopes(True, emu.graph_url)
    flow = identity.start_auth_flow(app, scopes, REDIRECT_URI, login_hint=user)
    assert flow['code_verifier'] and flow['nonce'] and flow['state']
    assert 'code_challenge_method=S256' in flow['auth_uri'] and 'offline_access' in flow['auth_uri']
    params = consent_via_page(emu, flow['auth_uri'], user)
    result = identity.finish_auth_flow(app, flow, params)
    assert set(result) == {'access_token', 'username', 'home_account_id', 'id_token_claims'}
    assert result['username'].lower() == user.lower()
    assert result['home_account_id'] in {a['home_account_id'] for a in app.msal.get_accounts()}
    state = app.cache_state()
    assert state and refresh_tokens_in(state)
    assert app.cache_state() is None  # unchanged since the last save
    client = GraphClient(emu.graph_url, AccountTokens(app, scopes, result['home_account_id']), verify=emu.ca_bundle)
    me = client.me()
    assert (me.get('mail') or me['userPrincipalName']).lower() == user.lower()


def test_user_declines_consent(emu):
    app = build_app(emu)
    flow = identity.start_auth_flow(app, identity.graph_scopes(False, emu.graph_url), REDIRECT_URI)
    params = consent_via_page(emu, flow['auth_uri'], emu.users[0], decision='cancel')
    with pytest.raises(AuthInvalid) as caught:
        identity.finish_auth_flow(app, flow, params)
    assert caught.value.kind == 'access_denied'
    assert not isinstance(caught.value, FlowMismatch)


def test_state_mismatch_is_flow_mismatch(emu):
    app = build_app(emu)
    flow = identity.start_auth_flow(app, identity.graph_scopes(True, emu.graph_url), REDIRECT_URI,
                                    state='expected-state')
    assert flow['state'] == 'expected-state'
    params = consent_via_page(emu, flow['auth_uri'], emu.users[0])
    with pytest.raises(FlowMismatch) as caught:
        identity.finish_auth_flow(app, flow, dict(params, state='forged'))
    assert isinstance(caught.value, ValueError) and caught.value.kind == 'other'


def test_nonce_mismatch_is_flow_mismatch(emu):
    app = build_app(emu)
    flow = identity.start_auth_flow(app, identity.graph_scopes(True, emu.graph_url), REDIRECT_URI)
    params = consent_via_page(emu, flow['auth_uri'], emu.users[0])
    with pytest.raises(FlowMismatch):
        identity.finish_auth_flow(app, dict(flow, nonce='another-nonce'), params)


def test_pkce_verifier_is_checked(emu):
    app = build_app(emu)
    flow = identity.start_auth_flow(app, identity.graph_scopes(True, emu.graph_url), REDIRECT_URI)
    params = consent_via_page(emu, flow['auth_uri'], emu.users[0])
    with pytest.raises(AuthInvalid) as caught:
        identity.finish_auth_flow(app, dict(flow, code_verifier='x' * 43), params)
    assert caught.value.kind == 'invalid_grant' and 501481 in caught.value.error_codes


def test_code_cannot_be_redeemed_twice(emu):
    app = build_app(emu)
    flow = identity.start_auth_flow(app, identity.graph_scopes(True, emu.graph_url), REDIRECT_URI)
    params = consent_via_page(emu, flow['auth_uri'], emu.users[0])
    identity.finish_auth_flow(app, flow, params)
    with pytest.raises(AuthInvalid) as caught:
        identity.finish_auth_flow(build_app(emu), flow, params)
    assert caught.value.kind == 'invalid_grant'


# ------------------------------------------------------------------ refresh, rotation, persistence

def test_refresh_rotates_and_cache_state_round_trips(emu):
    tokens, result = authorize(emu, emu.users[1])
    first_state = tokens.app.cache_state()
    first_rts = refresh_tokens_in(first_state)
    # A new process (next cron run) loads the persisted cache and refreshes.
    app = build_app(emu, cache_state=first_state)
    assert app.cache_state() is None  # loading is not a change
    cached = identity.acquire_token(app, tokens.scopes, result['home_account_id'])
    assert cached == result['access_token']  # still valid: no network call, nothing to persist
    assert app.cache_state() is None
    refreshed = identity.acquire_token(app, tokens.scopes, result['home_account_id'], force_refresh=True)
    assert refreshed != result['access_token']
    second_state = app.cache_state()
    assert second_state and refresh_tokens_in(second_state) != first_rts  # the rotated RT must be persisted
    again = build_app(emu, cache_state=second_state)
    assert identity.acquire_token(again, tokens.scopes, result['home_account_id'], force_refresh=True)


def test_read_only_scopes_are_a_subset(emu):
    tokens, result = authorize(emu, emu.users[1], write_back=False)
    assert tokens.scopes[0].endswith('/Mail.Read')
    assert identity.acquire_token(tokens.app, tokens.scopes, result['home_account_id'], force_refresh=True)


@pytest.mark.parametrize('scenario, kind', [
    ('70008', 'invalid_grant'), ('700082', 'invalid_grant'), ('50173', 'invalid_grant'),
    ('70043', 'invalid_grant'), ('50076', 'interaction_required'), ('65001', 'consent_required'),
    ('7000215', 'invalid_client'), ('7000222', 'invalid_client'), ('700016', 'invalid_client'),
])
def test_refresh_errors_map_to_auth_invalid_kinds(emu, scenario, kind):
    tokens, result = authorize(emu, emu.users[1])
    emu.control('POST', '/token_errors', {'scenario': scenario, 'count': 1, 'grant_type': 'refresh_token'})
    with pytest.raises(AuthInvalid) as caught:
        identity.acquire_token(tokens.app, tokens.scopes, result['home_account_id'], force_refresh=True)
    error = caught.value
    assert error.kind == kind
    assert int(scenario) in error.error_codes
    assert 'Trace ID' not in error.message and 'Correlation' not in error.message
    assert '\n' not in error.message


def test_revoked_grant_is_invalid_grant(emu):
    tokens, result = authorize(emu, emu.users[2])
    emu.control('POST', '/revoke', {'user': emu.users[2]})
    with pytest.raises(AuthInvalid) as caught:
        identity.acquire_token(tokens.app, tokens.scopes, result['home_account_id'], force_refresh=True)
    assert caught.value.kind == 'invalid_grant'


def test_unknown_account_is_no_account(emu):
    tokens, _result = authorize(emu, emu.users[1])
    with pytest.raises(AuthInvalid) as caught:
        identity.acquire_token(tokens.app, tokens.scopes, 'nobody.tenant')
    assert caught.value.kind == 'no_account'
    with pytest.raises(AuthInvalid):
        identity.acquire_token(tokens.app, tokens.scopes, None)


def test_remove_account_forgets_tokens(emu):
    tokens, result = authorize(emu, emu.users[1])
    tokens.app.cache_state()
    assert identity.remove_account(tokens.app, result['home_account_id']) is True
    state = tokens.app.cache_state()
    assert state is not None and not refresh_tokens_in(state)
    with pytest.raises(AuthInvalid) as caught:
        identity.acquire_token(build_app(emu, cache_state=state), tokens.scopes, result['home_account_id'])
    assert caught.value.kind == 'no_account'
    assert identity.remove_account(tokens.app, result['home_account_id']) is False


def test_corrupt_cache_state_means_no_account(emu):
    app = build_app(emu, cache_state='{not json')
    with pytest.raises(AuthInvalid) as caught:
        identity.acquire_token(app, identity.graph_scopes(True, emu.graph_url), 'someone.tenant')
    assert caught.value.kind == 'no_account'


def test_token_endpoint_server_error_is_transient(emu):
    tokens, result = authorize(emu, emu.users[1])
    emu.faults({'status': 503, 'path_contains': '/oauth2/v2.0/token', 'count': 5})
    with pytest.raises(Transient):
        identity.acquire_token(tokens.app, tokens.scopes, result['home_account_id'], force_refresh=True)


def test_unreachable_authority_is_transient(emu):
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    with pytest.raises(Transient):
        identity.build_app(emu.client_id, emu.client_secret, 'https://127.0.0.1:%d/common' % port,
                           verify=emu.ca_bundle, timeout=5)


def test_tls_is_verified_against_the_given_bundle(emu):
    # REQUESTS_CA_BUNDLE points at the system store, which does not trust the emulator's CA: with verify=None
    # MSAL's discovery must fail, proving that verify= is what made the other tests pass.
    with pytest.raises(Transient):
        identity.build_app(emu.client_id, emu.client_secret, emu.authority, verify=None, timeout=5)


def test_scope_names_ignore_the_resource_form():
    assert identity.scope_name('https://graph.microsoft.com/Mail.ReadWrite') == 'mail.readwrite'
    assert identity.scope_name('Mail.ReadWrite') == 'mail.readwrite'
    assert identity.scope_name('https://127.0.0.1:8443/User.Read') == 'user.read'


def test_cached_access_token_is_used_whatever_the_scope_form(emu):
    """Entra answers ``Mail.ReadWrite ... email openid profile`` to full-URL scopes; MSAL files the token under
    that and its exact-string lookup misses (msal-python issue 450): a valid token must still mean no request."""
    tokens, result = authorize(emu, emu.users[1])
    entries = tokens.app.cache.search(identity.msal.TokenCache.CredentialType.ACCESS_TOKEN)
    assert all('https://' not in entry['target'] for entry in entries)  # Entra's short form
    before = emu.counters()['token']['total']
    first = identity.acquire_token(tokens.app, tokens.scopes, result['home_account_id'])
    again = identity.acquire_token(build_app(emu, cache_state=tokens.app.cache.serialize()), tokens.scopes,
                                   result['home_account_id'])
    assert first == again == result['access_token']
    assert emu.counters()['token']['total'] == before
    refreshed = identity.acquire_token(tokens.app, tokens.scopes, result['home_account_id'], force_refresh=True)
    assert refreshed != first and emu.counters()['token']['total'] == before + 1
    assert identity.acquire_token(tokens.app, tokens.scopes, result['home_account_id']) == refreshed
    assert emu.counters()['token']['total'] == before + 1


def test_scope_escalation_needs_consent(emu):
    tokens, result = authorize(emu, emu.users[1], write_back=False)
    with pytest.raises(AuthInvalid) as caught:
        identity.acquire_token(tokens.app, identity.graph_scopes(True, emu.graph_url), result['home_account_id'],
                               force_refresh=True)
    assert caught.value.kind == 'consent_required' and 65001 in caught.value.error_codes


def test_msal_answers_a_repeated_failing_refresh_from_its_cache(emu):
    """graph-api.md §9.8: why callers count failures per attempt (per App), not per call."""
    tokens, result = authorize(emu, emu.users[1])
    state = tokens.app.cache_state()
    emu.control('POST', '/token_errors', {'scenario': '70008', 'count': 1, 'grant_type': 'refresh_token'})
    before = emu.counters()['token']['total']
    for _ in range(3):
        with pytest.raises(AuthInvalid):
            identity.acquire_token(tokens.app, tokens.scopes, result['home_account_id'], force_refresh=True)
    assert emu.counters()['token']['total'] == before + 1  # one network call, three identical failures
    # The injected failure is spent: a fresh App (the next cron run) sees the recovered grant at once.
    fresh = build_app(emu, cache_state=state)
    assert identity.acquire_token(fresh, tokens.scopes, result['home_account_id'], force_refresh=True)
