"""identity.TlsSession reads the environment once: the proxies requests would use (NO_PROXY honoured), the CA
bundle variables when no ``verify`` is given; never ``.netrc``. Its connections share one loaded CA bundle per file
and verify as strictly as urllib3's own."""
import contextlib
import http.server
import pathlib
import ssl
import threading

import pytest
import requests

from emulator import certs
from graph import identity


def test_proxies_as_requests_reads_them_once_per_host(monkeypatch):
    monkeypatch.setenv('HTTPS_PROXY', 'http://proxy.corp:3128')
    monkeypatch.setenv('NO_PROXY', 'login.internal.test')
    session = identity.TlsSession(verify=False)
    assert session.trust_env is False
    assert session._proxies_for('https://graph.microsoft.com/v1.0/me')['https'] == 'http://proxy.corp:3128'
    assert 'https' not in session._proxies_for('https://login.internal.test/common/oauth2/v2.0/token')
    monkeypatch.setenv('HTTPS_PROXY', 'http://other:1')  # read once: a running server's environment does not move
    assert session._proxies_for('https://graph.microsoft.com/v1.0/me?$top=1')['https'] == 'http://proxy.corp:3128'


def test_ca_bundle_from_the_environment_only_without_verify(monkeypatch, tmp_path):
    bundle = tmp_path / 'corp-ca.pem'
    bundle.write_text('x')
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', str(bundle))
    assert identity.TlsSession().tls_verify == str(bundle)
    assert identity.TlsSession(verify='/etc/maildesk/ca.pem').tls_verify == '/etc/maildesk/ca.pem'
    monkeypatch.delenv('REQUESTS_CA_BUNDLE')
    monkeypatch.delenv('CURL_CA_BUNDLE', raising=False)
    assert identity.TlsSession().tls_verify is None


def test_connection_pool_found_by_host_as_requests_would():
    """The adapter's shortcut (scheme, host, port) gives the very pool the stock adapter gives for the URL."""
    import requests

    session = identity.TlsSession(verify=False)
    adapter = session.get_adapter('https://graph.microsoft.com/')
    assert isinstance(adapter, identity.HostPoolAdapter)
    stock = requests.adapters.HTTPAdapter()
    stock.poolmanager = adapter.poolmanager  # same pools: the stock lookup must land on the same one
    for url in ('https://graph.microsoft.com/v1.0/me/mailFolders(\'AQMk%3D\')/messages/delta?$deltatoken=ab_c-1',
                'https://GRAPH.microsoft.com:443/v1.0/me', 'https://127.0.0.1:8443/v1.0/me', 'http://[::1]:8080/x',
                'https://login.microsoftonline.com/common/oauth2/v2.0/token'):
        assert adapter.get_connection(url) is stock.get_connection(url), url
    assert adapter.get_connection('https://a.test/x') is not adapter.get_connection('https://b.test/x')
    proxied = adapter.get_connection('https://graph.microsoft.com/v1.0/me', {'https': 'http://proxy.corp:3128'})
    assert proxied.proxy.host == 'proxy.corp', 'through a proxy: the stock lookup (a pool of the proxy manager)'


# ---------------------------------------------------------------------------------------------------------------
# One loaded CA bundle per file for the process's connections (identity.verifying_context), and TLS verification
# exactly as strict as urllib3's own: trust, hostname, a replaced bundle.

class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _tls_server(state_dir, host):
    """An HTTPS server on ``host`` with a certificate for 127.0.0.1 and localhost, issued by the CA of
    ``state_dir`` (its ``ca.pem``)."""
    cert, key, _bundle = certs.ensure_certs(str(state_dir))
    server = http.server.ThreadingHTTPServer((host, 0), _Ok)
    server.socket = certs.server_context(cert, key).wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'https://%s:%d/' % (host, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _another_ca(tmp_path):
    certs.ensure_certs(str(tmp_path / 'other'))
    return str(tmp_path / 'other' / 'ca.pem')


@pytest.fixture()
def server(tmp_path):
    identity._trust_stores.clear()
    with _tls_server(tmp_path / 'ca', '127.0.0.1') as url:
        yield url, str(tmp_path / 'ca' / 'ca.pem')


@pytest.fixture()
def loads(monkeypatch):
    """How many times a CA bundle file is loaded into some SSLContext of this process."""
    calls = []
    original = ssl.SSLContext.load_verify_locations

    def counted(context, cafile=None, capath=None, cadata=None):
        calls.append(cafile)
        return original(context, cafile, capath, cadata)
    monkeypatch.setattr(ssl.SSLContext, 'load_verify_locations', counted)
    return calls


def test_new_connections_load_the_bundle_once_per_process(server, loads):
    url, ca = server
    for _session in range(3):  # three sessions (three cron runs' clients): three new TLS connections
        with identity.TlsSession(verify=ca) as session:
            assert session.get(url).text == 'ok'
    assert len(loads) == 1, loads
    for _session in range(2):  # stock requests, for comparison: one load per new connection
        with requests.Session() as session:
            assert session.get(url, verify=ca).text == 'ok'
    assert len(loads) == 3, loads


@pytest.mark.filterwarnings('ignore::urllib3.exceptions.InsecureRequestWarning')
def test_the_shared_bundle_trusts_nothing_more(server, tmp_path):
    """A context shared by the sessions of one bundle never lets a session of another bundle trust its CA."""
    url, ca = server
    with identity.TlsSession(verify=ca) as session:
        assert session.get(url).text == 'ok'
    other_ca = _another_ca(tmp_path)
    for verify in (other_ca, None):  # another private CA; the default bundle (certifi or REQUESTS_CA_BUNDLE)
        with identity.TlsSession(verify=verify) as session, pytest.raises(requests.exceptions.SSLError):
            session.get(url)
    with identity.TlsSession(verify=ca) as session:
        assert session.get(url).text == 'ok'
    with identity.TlsSession(verify=False) as session:  # verification off stays off, and apart
        assert session.get(url).text == 'ok'
    with identity.TlsSession(verify=other_ca) as session, pytest.raises(requests.exceptions.SSLError):
        session.get(url)


def test_the_hostname_is_still_matched(server, tmp_path):
    url, ca = server
    with identity.TlsSession(verify=ca) as session:
        assert session.get(url).text == 'ok'
        # same CA, same certificate (127.0.0.1, localhost), another address: refused
        with _tls_server(tmp_path / 'ca', '127.0.0.2') as elsewhere, \
                pytest.raises(requests.exceptions.SSLError, match=r'(?i)hostname|match'):
            session.get(elsewhere)


def test_a_replaced_bundle_is_read_again(server, tmp_path):
    url, ca = server
    bundle = tmp_path / 'bundle.pem'
    other_ca = _another_ca(tmp_path)
    bundle.write_bytes(pathlib.Path(other_ca).read_bytes())
    with identity.TlsSession(verify=str(bundle)) as session, pytest.raises(requests.exceptions.SSLError):
        session.get(url)
    # the administrator adds the CA to the bundle file
    bundle.write_bytes(pathlib.Path(other_ca).read_bytes() + pathlib.Path(ca).read_bytes())
    with identity.TlsSession(verify=str(bundle)) as session:
        assert session.get(url).text == 'ok'
