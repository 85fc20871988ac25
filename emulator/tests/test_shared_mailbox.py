"""Exchange shared mailboxes and mailbox permissions: Full Access, Send As, Send on Behalf, the .Shared scopes."""
import pytest

from emulator.testing import running_emulator, session
from emulator.tests.helpers import Graph
from emulator.tests.test_identity import REDIRECT, browser_consent, make_app

SHARED = 'support@contoso.test'
READ_SHARED = ['Mail.ReadWrite', 'Mail.Send', 'User.Read', 'Mail.ReadWrite.Shared', 'Mail.Send.Shared']
IMMUTABLE = ['IdType="ImmutableId"']


@pytest.fixture(scope='module')
def emu():
    with running_emulator(users=2, messages=30, seed=5, extra_args=('--shared', 'info', '--no-realistic')) as handle:
        handle.add_shared_mailbox(SHARED, 'Support', messages=12)
        yield handle


@pytest.fixture(autouse=True)
def _grants(emu):
    emu.permissions(SHARED, emu.users[0], full_access=True, send_as=False, send_on_behalf=False)
    emu.permissions(SHARED, emu.users[1], full_access=False, send_as=False, send_on_behalf=False)
    yield


def _graph(emu, user=None, scopes=READ_SHARED):
    return Graph(emu, user or emu.users[0], scopes=scopes)


def test_shared_mailboxes_are_no_users_and_cannot_sign_in(emu):
    assert SHARED not in emu.users and 'info@contoso.test' in emu.info['shared_mailboxes']
    app = make_app(emu)
    flow = app.initiate_auth_code_flow(['https://graph.microsoft.com/Mail.Read'], redirect_uri=REDIRECT)
    http = session(emu.ca_bundle)
    page = http.get(flow['auth_uri'], allow_redirects=False)
    hidden = page.text.split('name="request" value="', 1)[1].split('"', 1)[0]
    resp = http.post(emu.authority + '/oauth2/v2.0/authorize/decide',
                     data={'request': hidden, 'user': SHARED, 'decision': 'accept'}, allow_redirects=False)
    assert resp.status_code == 400 and 'AADSTS50057' in resp.text
    with pytest.raises(Exception, match='shared mailbox'):
        emu.token(SHARED)


def test_startup_grant_reaches_the_first_user(emu):
    grants = emu.control('GET', '/permissions?mailbox=info@contoso.test')['grants']
    assert grants == [{'mailbox': 'info@contoso.test', 'user': emu.users[0],
                       'rights': ['full_access', 'send_as', 'send_on_behalf']}]


def test_full_access_and_the_shared_scopes_are_both_needed(emu):
    inbox = '/users/%s/mailFolders/inbox' % SHARED
    assert _graph(emu).ok('GET', inbox)['displayName'] == 'Inbox'
    # the token lacks the .Shared permissions: 403 ErrorAccessDenied, although Full Access is granted
    plain = _graph(emu, scopes=['Mail.ReadWrite', 'Mail.Send', 'User.Read'])
    r = plain.get(inbox)
    assert r.status_code == 403 and r.json()['error']['code'] == 'ErrorAccessDenied'
    # the .Shared scopes without Full Access: 403 ErrorAccessDenied
    r = _graph(emu, emu.users[1]).get(inbox)
    assert r.status_code == 403 and r.json()['error']['code'] == 'ErrorAccessDenied'
    assert r.json()['error']['message'] == 'Access is denied. Check credentials and try again.'
    # the user's own mailbox still answers through /users/{self} without .Shared
    assert plain.ok('GET', '/users/%s/mailFolders/inbox' % emu.users[0])['displayName'] == 'Inbox'
    # a directory read of another user needs User.ReadBasic.All
    assert _graph(emu).get('/users/%s' % SHARED).status_code == 403


def test_unknown_address_and_mailbox_without_exchange_online(emu):
    r = _graph(emu).get('/users/nobody@contoso.test/mailFolders/inbox')
    assert r.status_code == 404 and r.json()['error']['code'] == 'ErrorInvalidUser'
    emu.mailbox(SHARED, exchange_online=False)
    try:
        r = _graph(emu).get('/users/%s/mailFolders/inbox' % SHARED)
        assert r.status_code == 404 and r.json()['error']['code'] == 'MailboxNotEnabledForRESTAPI'
    finally:
        emu.mailbox(SHARED, exchange_online=True)


def test_revoked_full_access_is_refused_on_the_next_request(emu):
    g = _graph(emu)
    page = g.ok('GET', '/users/%s/mailFolders/inbox/messages/delta' % SHARED, prefer=['odata.maxpagesize=5'])
    assert page['value'] and '@odata.nextLink' in page
    emu.permissions(SHARED, emu.users[0], full_access=False)
    r = g.get(page['@odata.nextLink'], prefer=['odata.maxpagesize=5'])
    assert r.status_code == 403 and r.json()['error']['code'] == 'ErrorAccessDenied'
    emu.permissions(SHARED, emu.users[0], full_access=True)
    assert g.ok('GET', page['@odata.nextLink'], prefer=['odata.maxpagesize=5'])['value'] is not None


def _draft_and_send(g, body):
    draft = g.ok('POST', '/users/%s/messages' % SHARED, 201, json=body, prefer=IMMUTABLE)
    r = g.post('/users/%s/messages/%s/send' % (SHARED, draft['id']), prefer=IMMUTABLE)
    return draft, r


def _message(**extra):
    return dict({'subject': 'From support', 'body': {'contentType': 'html', 'content': '<p>hi</p>'},
                 'toRecipients': [{'emailAddress': {'address': 'customer@fabrikam.test'}}]}, **extra)


def test_send_without_send_as_is_denied_and_the_draft_stays(emu):
    g = _graph(emu)
    draft, r = _draft_and_send(g, _message())
    assert r.status_code == 403 and r.json()['error']['code'] == 'ErrorSendAsDenied'
    kept = g.ok('GET', '/users/%s/messages/%s' % (SHARED, draft['id']), prefer=IMMUTABLE)
    assert kept['isDraft'] is True
    # Mail.Send.Shared is needed too, whatever Exchange grants
    emu.permissions(SHARED, emu.users[0], send_as=True)
    no_send = _graph(emu, scopes=['Mail.ReadWrite.Shared', 'User.Read'])
    r = no_send.post('/users/%s/messages/%s/send' % (SHARED, draft['id']), prefer=IMMUTABLE)
    assert r.status_code == 403 and r.json()['error']['code'] == 'ErrorAccessDenied'


def test_send_as_lands_in_the_shared_sent_items(emu):
    emu.permissions(SHARED, emu.users[0], send_as=True)
    g = _graph(emu)
    draft, r = _draft_and_send(g, _message(subject='Send As'))
    assert r.status_code == 202, r.text
    emu.settle()
    sent = g.ok('GET', '/users/%s/messages/%s' % (SHARED, draft['id']), prefer=IMMUTABLE)
    assert sent['isDraft'] is False
    assert sent['from']['emailAddress']['address'] == SHARED == sent['sender']['emailAddress']['address']
    folders = emu.state(SHARED)
    sent_items = next(f for f in folders.values() if f['well_known'] == 'sentitems')
    assert draft['id'] in sent_items['messages']
    own = emu.state(emu.users[0])
    assert not any(m['subject'] == 'Send As' for f in own.values() for m in f['messages'].values())


def test_send_on_behalf_sets_sender_to_the_delegate(emu):
    g = _graph(emu)
    me = emu.users[0]
    body = _message(subject='On behalf', sender={'emailAddress': {'address': me}})
    draft, r = _draft_and_send(g, body)
    assert r.status_code == 403 and r.json()['error']['code'] == 'ErrorSendAsDenied'  # no Send on Behalf yet
    emu.permissions(SHARED, me, send_on_behalf=True)
    r = g.post('/users/%s/messages/%s/send' % (SHARED, draft['id']), prefer=IMMUTABLE)
    assert r.status_code == 202, r.text
    emu.settle()
    sent = g.ok('GET', '/users/%s/messages/%s' % (SHARED, draft['id']), prefer=IMMUTABLE)
    assert sent['from']['emailAddress']['address'] == SHARED
    assert sent['sender']['emailAddress']['address'] == me
    # another user's address as sender is never allowed, whatever the grants
    body = _message(sender={'emailAddress': {'address': emu.users[1]}})
    _draft, r = _draft_and_send(g, body)
    assert r.status_code == 403 and r.json()['error']['code'] == 'ErrorSendAsDenied'


def test_msal_token_with_shared_scopes_reads_the_shared_mailbox(emu):
    app = make_app(emu)
    scopes = ['https://graph.microsoft.com/%s' % s for s in READ_SHARED]
    flow = app.initiate_auth_code_flow(scopes, redirect_uri=REDIRECT, login_hint=emu.users[0])
    params, _ = browser_consent(emu, flow)
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert 'Mail.ReadWrite.Shared' in result['scope'].split()
    http = session(emu.ca_bundle)
    r = http.get(emu.graph_url + '/users/%s/mailFolders' % SHARED, verify=emu.ca_bundle,
                 headers={'Authorization': 'Bearer ' + result['access_token']})
    assert r.status_code == 200 and any(f['displayName'] == 'Inbox' for f in r.json()['value'])
