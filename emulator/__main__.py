"""python3 -m emulator --port PORT --state-dir DIR [--users N] [--messages N] [--seed S] [--token-lifetime S]
[--no-realistic] [--config JSON] [--redirect-uri URI] [--shared LOCAL[=USER,...]]"""
import argparse
import json
import os
import signal
import sys
import tempfile
import time

from . import certs, mailstore, seed, server
from .util import parse_iso


def main(argv=None):
    p = argparse.ArgumentParser(prog='python3 -m emulator', description=__doc__)
    p.add_argument('--port', type=int, default=0, help='0 picks a free port')
    p.add_argument('--state-dir', default=None, help='CA, server certificate and ca-bundle.pem go here')
    p.add_argument('--users', type=int, default=2)
    p.add_argument('--messages', type=int, default=200, help="messages seeded into each user's Inbox")
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--token-lifetime', type=int, default=3599, help='access-token lifetime in seconds')
    p.add_argument('--code-lifetime', type=int, default=600)
    p.add_argument('--anchor', default=None, help='ISO date the seeded mail ends at (default: today 00:00 UTC)')
    p.add_argument('--verbose', action='store_true', help='log every request to stderr')
    p.add_argument('--no-realistic', dest='realistic', action='store_false',
                   help="turn the realistic mode off (sparse/duplicated/empty delta pages, delayed Sent Items "
                        "copies, ...): a deterministic, kind service; see README.md")
    p.add_argument('--config', default=None, help='JSON object of /_emulator/config values to start with '
                                                  '(they become what /_emulator/neutral restores)')
    p.add_argument('--shared', action='append', default=[], metavar='LOCAL[=USER,...]',
                   help='add a shared mailbox LOCAL@contoso.test (repeatable); Full Access, Send As and Send on '
                        'Behalf go to the users named (default: the first user; "LOCAL=" grants nothing)')
    p.add_argument('--redirect-uri', action='append', default=[],
                   help='register one more redirect URI for the app (repeatable)')
    args = p.parse_args(argv)
    state_dir = args.state_dir or tempfile.mkdtemp(prefix='maildesk-emulator-')
    cert, key, bundle = certs.ensure_certs(state_dir)
    t0 = time.perf_counter()
    store = mailstore.Store(args.seed)
    anchor = parse_iso(args.anchor) if args.anchor else None
    seed.seed_store(store, max(1, args.users), max(0, args.messages), args.seed, anchor)
    for spec in args.shared:
        local, has_users, users = spec.partition('=')
        shared = seed.add_shared_mailbox(store, local, messages=max(0, args.messages // 10), seed=args.seed,
                                         anchor=anchor)
        for user in (users.split(',') if has_users else [store.mailboxes[0].address]):
            if user.strip() and store.mailbox(user.strip()) is not None:
                store.set_rights(shared, store.mailbox(user.strip()), full_access=True, send_as=True,
                                 send_on_behalf=True)
    store.startup_grants = dict(store.grants)
    seed_seconds = time.perf_counter() - t0
    config = {'token_lifetime': args.token_lifetime, 'code_lifetime': args.code_lifetime,
              'realistic': args.realistic}
    extra = json.loads(args.config) if args.config else {}
    unknown = set(extra) - set(server.DEFAULT_CONFIG) - set(server.KIND) - {'realistic'}
    if unknown:
        p.error('unknown --config keys %s' % sorted(unknown))
    config.update(extra)
    if args.redirect_uri:
        config['redirect_uris'] = list(extra.get('redirect_uris', server.DEFAULT_CONFIG['redirect_uris'])) + \
            args.redirect_uri
    app = server.App(store, config, verbose=args.verbose)
    httpd = server.Server(app, args.port, certs.server_context(cert, key))
    port = httpd.server_address[1]
    app.bind('https://127.0.0.1:%d' % port, os.path.abspath(bundle))
    info = dict(app.info(), seed_seconds=round(seed_seconds, 3), pid=os.getpid(), state_dir=os.path.abspath(state_dir))
    with open(os.path.join(state_dir, 'emulator.json'), 'w') as fh:
        json.dump(info, fh, indent=2)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    sys.stdout.write(json.dumps(info) + '\n')
    sys.stdout.flush()
    try:
        httpd.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        httpd.server_close()


if __name__ == '__main__':
    main()
