"""identity.TlsSession reads the environment once: the proxies requests would use (NO_PROXY honoured), the CA
bundle variables when no ``verify`` is given; never ``.netrc``."""
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
