"""Shared test helpers (importable as emulator.tests.helpers)."""
from emulator.testing import session


class Graph:
    """Tiny Graph caller for tests: bearer token + verify=ca_bundle on every call (REQUESTS_CA_BUNDLE gotcha)."""

    def __init__(self, emu, user=None, scopes=None, immutable=False):
        self.emu = emu
        self.user = user or emu.users[0]
        self.http = session(emu.ca_bundle)
        self.token = emu.token(self.user, scopes)['access_token']
        self.immutable = immutable

    def headers(self, extra=None, prefer=None):
        h = {'Authorization': 'Bearer ' + self.token}
        prefs = list(prefer or [])
        if self.immutable:
            prefs.append('IdType="ImmutableId"')
        if prefs:
            h['Prefer'] = ', '.join(prefs)
        h.update(extra or {})
        return h

    def url(self, path):
        return path if path.startswith('https://') else self.emu.graph_url + path

    def request(self, method, path, prefer=None, headers=None, **kw):
        return self.http.request(method, self.url(path), headers=self.headers(headers, prefer),
                                 verify=self.emu.ca_bundle, timeout=60, **kw)

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, **kw):
        return self.request('POST', path, **kw)

    def patch(self, path, **kw):
        return self.request('PATCH', path, **kw)

    def delete(self, path, **kw):
        return self.request('DELETE', path, **kw)

    def ok(self, method, path, status=200, **kw):
        r = self.request(method, path, **kw)
        assert r.status_code == status, (r.status_code, r.text[:500])
        return r.json() if r.content else None
