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
