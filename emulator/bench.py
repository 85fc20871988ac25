"""Emulator benchmark: seed time for N messages and latency of 1,000-item pages (delta + list), over real HTTPS.

    python3 -m emulator.bench [--messages 200000]
"""
import argparse
import json
import statistics
import time

from emulator.testing import running_emulator, session

SELECT = ('subject,isRead,receivedDateTime,from,flag,categories,internetMessageId,conversationId,parentFolderId,'
          'hasAttachments,lastModifiedDateTime,changeKey')


def run(messages=200000, pages=20):
    t = time.perf_counter()
    with running_emulator(users=1, messages=messages, seed=1, realistic=False) as emu:  # exact page sizes
        startup = time.perf_counter() - t
        http = session(emu.ca_bundle)
        token = emu.token()['access_token']
        headers = {'Authorization': 'Bearer ' + token, 'Prefer': 'odata.maxpagesize=1000, IdType="ImmutableId"'}
        link = "%s/me/mailFolders/inbox/messages/delta?$select=%s&$orderby=receivedDateTime desc" % (
            emu.graph_url, SELECT)
        http.get(emu.graph_url + '/me', headers=headers)  # warm the connection
        delta_ms = []
        for _ in range(pages):
            t = time.perf_counter()
            r = http.get(link, headers=headers)
            delta_ms.append((time.perf_counter() - t) * 1000)
            body = r.json()
            assert len(body['value']) == 1000, r.text[:200]
            link = body['@odata.nextLink']
        list_ms = []
        for i in range(pages):
            t = time.perf_counter()
            r = http.get('%s/me/mailFolders/inbox/messages?$top=1000&$skip=%d&$select=%s' % (
                emu.graph_url, i * 1000, SELECT), headers=headers)
            list_ms.append((time.perf_counter() - t) * 1000)
            assert len(r.json()['value']) == 1000
        # a change round after 100 server-side changes in a 200k folder
        while '@odata.deltaLink' not in body:
            body = http.get(body['@odata.nextLink'], headers=headers).json()
        ids = emu.control('POST', '/deliver', {'count': 100})['ids']
        t = time.perf_counter()
        changes = http.get(body['@odata.deltaLink'], headers=headers).json()
        change_ms = (time.perf_counter() - t) * 1000
        assert {m['id'] for m in changes['value']} == set(ids)
        return {'messages': messages, 'seed_seconds': emu.info['seed_seconds'],
                'startup_seconds': round(startup, 2),
                'delta_page_1000_ms': {'median': round(statistics.median(delta_ms), 1), 'max': round(max(delta_ms), 1)},
                'list_page_1000_ms': {'median': round(statistics.median(list_ms), 1), 'max': round(max(list_ms), 1)},
                'change_round_100_ms': round(change_ms, 1)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--messages', type=int, default=200000)
    p.add_argument('--pages', type=int, default=20)
    args = p.parse_args()
    print(json.dumps(run(args.messages, args.pages), indent=2))


if __name__ == '__main__':
    main()
