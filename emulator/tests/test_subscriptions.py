"""Change notifications (emulator/subscriptions.py): the subscription API, the handshake, delivery, lifecycle."""
import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from emulator.tests.helpers import Graph


class Receiver:
    """A notification endpoint on loopback: records every POST; ``mode`` says how it answers the handshake."""

    def __init__(self, mode='echo'):
        self.mode = mode
        self.posts = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                query = dict(parse_qsl(urlsplit(self.path).query))
                receiver.posts.append((query, body))
                token = query.get('validationToken')
                if token is not None:
                    if receiver.mode == 'slow':
                        time.sleep(11)
                    answer = token if receiver.mode in ('echo', 'slow') else 'something else'
                    data = answer.encode()
                    self.send_response(200)
                    self.send_header('Content-Type', 'text/plain')
                else:
                    data = b''
                    self.send_response(202)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d/notify' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def notifications(self):
        return [item for query, body in self.posts if body for item in json.loads(body)['value']]

    def close(self):
        self.server.shutdown()


@pytest.fixture()
def receiver():
    rec = Receiver()
    yield rec
    rec.close()


def _expiry(minutes):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def _subscribe(graph, url, minutes=4000, folder='inbox', status=201, **extra):
    inbox = graph.ok('GET', '/me/mailFolders/%s' % folder)['id']
    body = dict({'changeType': 'created,updated,deleted', 'resource': "me/mailFolders('%s')/messages" % inbox,
                 'notificationUrl': url, 'lifecycleNotificationUrl': url, 'clientState': 'secret-state',
                 'expirationDateTime': _expiry(minutes)}, **extra)
    response = graph.post('/subscriptions', json=body)
    assert response.status_code == status, response.text[:300]
    return response.json()


def _wait(predicate, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_handshake_and_delivery(emu, receiver):
    emu.config(push_drop_share=0, push_duplicate_share=0, push_delay=0.2)
    graph = Graph(emu)
    sub = _subscribe(graph, receiver.url)
    # the handshake: one POST per URL with a validationToken and no body, before the 201
    assert [bool(q.get('validationToken')) for q, body in receiver.posts] == [True, True]
    assert sub['clientState'] == 'secret-state' and sub['changeType'] == 'created,updated,deleted'
    emu.deliver(emu.users[0], subject='pushed')
    assert _wait(lambda: receiver.notifications())
    items = receiver.notifications()
    assert {item['changeType'] for item in items} == {'created'}
    assert items[0]['subscriptionId'] == sub['id'] and items[0]['clientState'] == 'secret-state'
    assert items[0]['resourceData']['@odata.type'] == '#Microsoft.Graph.Message'
    # another folder's mail is not this subscription's
    before = len(receiver.notifications())
    emu.deliver(emu.users[0], folder='sentitems', subject='elsewhere')
    time.sleep(0.8)
    assert len(receiver.notifications()) == before


def test_handshake_failures(emu):
    graph = Graph(emu)
    wrong = Receiver('wrong')
    try:
        error = _subscribe(graph, wrong.url, status=400)['error']
        assert error['code'] == 'ValidationError'
    finally:
        wrong.close()
    # nobody listening: the validation fails too
    assert _subscribe(graph, 'http://127.0.0.1:9/notify', status=400)['error']['code'] == 'ValidationError'
    # Graph takes https only; the loopback exception can be turned off
    assert _subscribe(graph, 'http://example.com/notify', status=400)['error']['code'] == 'InvalidRequest'
    emu.config(push_http_loopback=False)
    assert _subscribe(graph, 'http://127.0.0.1:9/notify', status=400)['error']['code'] == 'InvalidRequest'


def test_lifetime_and_renewal(emu, receiver):
    graph = Graph(emu)
    error = _subscribe(graph, receiver.url, minutes=10080 + 30, status=400)['error']
    assert error['code'] == 'ExtensionError' and '10080' in error['message']
    assert _subscribe(graph, receiver.url, clientState='x' * 129, status=400)['error']['code'] == 'InvalidRequest'
    short = _subscribe(graph, receiver.url, minutes=5)  # under 45 minutes: 45 minutes
    lasts = datetime.datetime.fromisoformat(short['expirationDateTime'].replace('Z', '+00:00')) - \
        datetime.datetime.now(datetime.timezone.utc)
    assert lasts > datetime.timedelta(minutes=44)
    renewed = graph.ok('PATCH', '/subscriptions/%s' % short['id'], json={'expirationDateTime': _expiry(6000)})
    assert renewed['expirationDateTime'] > short['expirationDateTime']
    too_long = graph.patch('/subscriptions/%s' % short['id'], json={'expirationDateTime': _expiry(20000)})
    assert too_long.status_code == 400
    # expired: gone
    emu.control('POST', '/subscriptions/expire', {'subscription': short['id']})
    assert graph.get('/subscriptions/%s' % short['id']).status_code == 404
    other = _subscribe(graph, receiver.url)
    assert graph.delete('/subscriptions/%s' % other['id']).status_code == 204
    assert graph.delete('/subscriptions/%s' % other['id']).status_code == 404


def test_other_users_subscription_is_not_found(emu, receiver):
    sub = _subscribe(Graph(emu), receiver.url)
    assert Graph(emu, user=emu.users[1]).get('/subscriptions/%s' % sub['id']).status_code == 404


def test_lifecycle_events(emu, receiver):
    graph = Graph(emu)
    sub = _subscribe(graph, receiver.url)
    emu.control('POST', '/lifecycle', {'subscription': sub['id'], 'event': 'reauthorizationRequired'})
    emu.control('POST', '/lifecycle', {'subscription': sub['id'], 'event': 'subscriptionRemoved'})
    assert _wait(lambda: len(receiver.notifications()) >= 2)
    events = [item['lifecycleEvent'] for item in receiver.notifications()]
    assert events == ['reauthorizationRequired', 'subscriptionRemoved']
    assert graph.get('/subscriptions/%s' % sub['id']).status_code == 404


def test_realistic_drops_and_duplicates(emu, receiver):
    emu.config(push_drop_share=0.3, push_duplicate_share=0.3, push_delay=0.1)
    graph = Graph(emu)
    _subscribe(graph, receiver.url)
    emu.deliver(emu.users[0], count=40, subject='burst')
    assert _wait(lambda: emu.control('GET', '/subscriptions')['pending'] == 0 and receiver.notifications())
    time.sleep(0.5)
    stats = emu.control('GET', '/subscriptions')
    assert stats['dropped'] > 0 and stats['duplicated'] > 0
    assert len(receiver.notifications()) == 40 - stats['dropped'] + stats['duplicated']
