"""Bulk move benchmark: 500 messages moved to Archive the way MailDesk's write-back sends them (Graph $batch, 20
moves per request, engine/write_back.py + graph/batch.py), against the project's emulator (realistic mode).

Target (issue #19): <= 30 Graph requests and <= 5 s for 500 messages. Not part of CI; run by ``make bench``.

    python3 tools/bench_bulk.py                  # 500 messages
    python3 tools/bench_bulk.py --messages 2000 --latency 0.02

Prints one line per run and a verdict; exits 1 when a target is missed.
"""
import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from emulator.testing import running_emulator  # noqa: E402
from graph import outgoing  # noqa: E402
from graph.client import GraphClient  # noqa: E402

MAX_REQUESTS = 30
MAX_SECONDS = 5.0


def inbox_ids(client, count):
    ids, link = [], None
    while len(ids) < count:
        page = client.delta_page('inbox', link)
        ids += [item['id'] for item in page.items if '@removed' not in item]
        if not page.next_link:
            break
        link = page.next_link
    return ids[:count]


def run(messages, latency):
    with running_emulator(users=1, messages=messages + 20, seed=19) as emu:
        emu.config(latency=latency)
        token = emu.token(emu.users[0])['access_token']
        client = GraphClient(emu.graph_url, lambda force_refresh=False: token, verify=emu.ca_bundle,
                             mailbox_key=emu.users[0])
        ids = inbox_ids(client, messages)
        archive = client.get_folder('archive')['id']
        before = client.request_count
        started = time.perf_counter()
        steps = [client.message_step(i, 'POST', mid, '/move', outgoing.move(archive)) for i, mid in enumerate(ids)]
        results = client.batch(steps)
        seconds = time.perf_counter() - started
        requests = client.request_count - before
        failed = sum(1 for r in results.values() if r.error is not None)
    return {'messages': len(ids), 'requests': requests, 'seconds': round(seconds, 2), 'failed': failed}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--messages', type=int, default=500)
    parser.add_argument('--latency', type=float, default=0.0, help='emulator latency per Graph request (s)')
    args = parser.parse_args()
    result = run(args.messages, args.latency)
    ok = result['requests'] <= MAX_REQUESTS * args.messages / 500 and result['seconds'] <= MAX_SECONDS and \
        not result['failed']
    print('bulk move: %(messages)d messages, %(requests)d Graph requests, %(seconds).2f s, %(failed)d failed' % result)
    print('target <= %d requests and <= %.0f s per 500 messages: %s' % (MAX_REQUESTS, MAX_SECONDS,
                                                                          'met' if ok else 'MISSED'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
