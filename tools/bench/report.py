"""Targets of issues 8 and 18 checked against one run, and the stdout table."""


def _get(data, *path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _fmt(value, digits=1, suffix=''):
    if value is None:
        return '—'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, (int, float)):
        if abs(value) >= 100:
            return f'{value:,.0f}{suffix}'
        return f'{value:,.{digits}f}{suffix}'
    return str(value)


def _sizes(results):
    return sorted((results.get('sizes') or {}).items(), key=lambda kv: int(kv[0]))


def maildesk_vs_imap(results):
    """MailDesk initial-sync throughput on the IMAP baseline's size (else the nearest) / Odoo IMAP throughput."""
    imap_rate = _get(results, 'imap', 'messages_per_s')
    sizes = _sizes(results)
    if not imap_rate or not sizes:
        return None, None
    n = results.get('config', {}).get('imap_messages', 10000)
    size, data = min(sizes, key=lambda kv: abs(int(kv[0]) - n))
    rate = _get(data, 'initial', 'messages_per_s')
    return (round(rate / imap_rate, 1) if rate else None), int(size)


def sql_rate(results, size_data=None):
    """The same run's bare ``INSERT ... ON CONFLICT`` rate (rows/s): the ceiling the sync is compared with --
    the one measured right before that size's sync when there is one, else the run's first."""
    return (_get(size_data or {}, 'sql_ceiling', 'rows_per_s')
            or _get(results, 'orm_ceiling', 'sql_upsert', 'rows_per_s'))


def delta_pages_per_1000(size_data):
    """The initial sync's delta page requests per 1,000 messages: the floor under "Graph requests / 1,000",
    since Graph serves fewer messages per page than ``odata.maxpagesize`` asks for when it likes."""
    by_endpoint, messages = _get(size_data, 'initial', 'requests_by_endpoint'), _get(size_data, 'initial', 'messages')
    if not by_endpoint or not messages:
        return None
    pages = sum(count for endpoint, count in by_endpoint.items() if endpoint.endswith('/delta'))
    return round(pages / messages * 1000, 3)


def evaluate(results):
    """[{target, value, met}] for every target the run measured."""
    out = []

    def check(name, value, ok):
        if value is not None:
            out.append({'target': name, 'value': value, 'met': bool(ok(value))})

    sizes = _sizes(results)
    for size, data in sizes:
        rate = _get(data, 'initial', 'messages_per_s')
        check(f'initial sync >= 5,000 msg/s ({int(size):,})', rate, lambda v: v >= 5000)
        if rate and sql_rate(results, data):
            check(f'initial sync >= 0.8 x same-run bare INSERT ... ON CONFLICT ({int(size):,})',
                  round(rate / sql_rate(results, data), 2), lambda v: v >= 0.8)
        check(f'<= 1.1 Graph requests / 1,000 msgs ({int(size):,})', _get(data, 'initial', 'requests_per_1000'),
              lambda v: v <= 1.1)
        check(f'first 50 newest in Odoo <= 1 s ({int(size):,})', _get(data, 'first_page_s'), lambda v: v <= 1)
        check(f'no-change cycle = 1 request / folder ({int(size):,})',
              _get(data, 'nochange', 'requests_per_folder'), lambda v: v <= 1)
        check(f'no-change cycle < 10 ms Odoo CPU / folder ({int(size):,})',
              _get(data, 'nochange', 'cpu_ms_per_folder'), lambda v: v < 10)
        check(f'no-change cycle < 10 ms Odoo CPU / folder, every folder synced ({int(size):,})',
              _get(data, 'nochange_all_folders', 'cpu_ms_per_folder'), lambda v: v < 10)
        check(f'open a message (body not prefetched) p95 < 200 ms ({int(size):,})', _get(data, 'open', 'p95_ms'),
              lambda v: v < 200)
        if int(size) >= 50000:
            check(f'inbox list opens < 300 ms ({int(size):,} in folder)', _get(data, 'inbox', 'open_ms_p95'),
                  lambda v: v < 300)
            check(f'inbox list pages < 300 ms ({int(size):,} in folder)', _get(data, 'inbox', 'page_ms_p95'),
                  lambda v: v < 300)
    if sizes and int(sizes[-1][0]) >= 100000:
        check('RSS growth over the 100k sync <= 150 MB', _get(sizes[-1][1], 'initial', 'rss_growth_mib'),
              lambda v: v <= 150)
    check('incremental 100-change cycle cost ratio largest / smallest <= 1.2',
          _get(results, 'incremental_ratio', 'cpu'), lambda v: v <= 1.2)
    ratio, _size = maildesk_vs_imap(results)
    check('MailDesk >= 100x Odoo IMAP on the same messages', ratio, lambda v: v >= 100)
    return out


def table(results):
    lines = []
    m = results.get('machine') or {}
    git = results.get('git') or {}
    lines.append('')
    dirty = git.get('uncommitted_code_files') or []
    dirty = f' + {len(dirty)} uncommitted code files ({git.get("uncommitted_fingerprint")})' if dirty else ''
    lines.append(f'MailDesk bench — commit {git.get("commit_short")}{dirty} — {m.get("cpu_model")}, '
                 f'{m.get("cores")} cores, '
                 f'{m.get("ram_gib")} GiB — Python {m.get("python")}, Odoo {m.get("odoo")}, '
                 f'PostgreSQL {m.get("postgres")}, Dovecot {m.get("dovecot")} — load average at start / end: '
                 f'{(m.get("loadavg_at_start") or ["?"])[0]} / {(results.get("loadavg_at_end") or ["?"])[0]}; '
                 f'wall time {results.get("wall_s", 0):.0f} s')
    sizes = _sizes(results)
    if sizes:
        rows = [
            ('Inbox messages (+ Sent Items)', lambda d: f'{d.get("messages", 0):,} (+{d.get("sent", 0):,})'),
            ('time to first page: newest 50 in Odoo (s)', lambda d: _fmt(d.get('first_page_s'), 2)),
            ('initial sync wall time, to the last page stored (s)', lambda d: _fmt(_get(d, 'initial', 'wall_s'), 2)),
            ('  cron runner busy until (s): + the body prefetch it woke',
             lambda d: _fmt(_get(d, 'initial', 'drain_wall_s'), 2)),
            ('initial sync throughput (msg/s)', lambda d: _fmt(_get(d, 'initial', 'messages_per_s'))),
            ('Graph requests / 1,000 msgs', lambda d: _fmt(_get(d, 'initial', 'requests_per_1000'), 2)),
            ('  of them delta pages, whose sizes Graph chooses', lambda d: _fmt(delta_pages_per_1000(d), 2)),
            ('Odoo CPU s / 1,000 msgs', lambda d: _fmt(_get(d, 'initial', 'cpu_s_per_1000'), 3)),
            ('PostgreSQL CPU s / 1,000 msgs', lambda d: _fmt(_get(d, 'initial', 'pg_cpu_s_per_1000'), 3)),
            ('peak RSS of the Odoo process (MiB)', lambda d: _fmt(_get(d, 'initial', 'peak_rss_mib'))),
            ('RSS growth during the sync (MiB)', lambda d: _fmt(_get(d, 'initial', 'rss_growth_mib'))),
            ('no-change cycle: requests / folder', lambda d: _fmt(_get(d, 'nochange', 'requests_per_folder'), 2)),
            ('no-change cycle: Odoo CPU ms / folder', lambda d: _fmt(_get(d, 'nochange', 'cpu_ms_per_folder'), 2)),
            ('  the fastest cycle; SQL statements / cycle',
             lambda d: f"{_fmt(_get(d, 'nochange', 'min_cpu_ms_per_folder'), 2)}; "
                       f"{_fmt(_get(d, 'nochange', 'sql_statements'), 0)}"),
            ('no-change cycle, every folder synced: folders, requests / folder',
             lambda d: f"{_fmt(_get(d, 'nochange_all_folders', 'folders'), 0)}, "
                       f"{_fmt(_get(d, 'nochange_all_folders', 'requests_per_folder'), 2)}"),
            ('no-change cycle, every folder synced: Odoo CPU ms / folder',
             lambda d: _fmt(_get(d, 'nochange_all_folders', 'cpu_ms_per_folder'), 2)),
            ('no-change cycle: Odoo CPU ms per run + per folder',
             lambda d: f"{_fmt(_get(d, 'nochange_all_folders', 'per_run_cpu_ms'), 1)} + "
                       f"{_fmt(_get(d, 'nochange_all_folders', 'marginal_cpu_ms_per_folder'), 2)}"),
            ('100-change cycle: requests', lambda d: _fmt(_get(d, 'changes', 'requests'), 0)),
            ('100-change cycle: Odoo CPU ms', lambda d: _fmt(_get(d, 'changes', 'cpu_ms'), 1)),
            ('100-change cycle: wall ms', lambda d: _fmt(_get(d, 'changes', 'wall_ms'), 1)),
            ('open a message: body fetch + render p50 / p95 (ms)',
             lambda d: f'{_fmt(_get(d, "open", "p50_ms"))} / {_fmt(_get(d, "open", "p95_ms"))}'),
            ('inbox list open / next page p95 (ms)',
             lambda d: f'{_fmt(_get(d, "inbox", "open_ms_p95"))} / {_fmt(_get(d, "inbox", "page_ms_p95"))}'),
        ]
        head = ['MailDesk (Graph emulator)'] + [f'{int(s):,}' for s, _ in sizes]
        body = [[label] + [fn(d) for _, d in sizes] for label, fn in rows]
        lines += _grid(head, body)
    ratio = results.get('incremental_ratio')
    if ratio:
        lines.append(f'incremental 100-change cycle, {ratio["large"]:,} / {ratio["small"]:,} messages: '
                     f'CPU ratio {_fmt(ratio.get("cpu"), 2)}, wall ratio {_fmt(ratio.get("wall"), 2)}, '
                     f'requests {ratio.get("requests_large")} vs {ratio.get("requests_small")}, '
                     f'SQL statements {ratio.get("sql_statements_large", "-")} '
                     f'vs {ratio.get("sql_statements_small", "-")}')
    imap = results.get('imap')
    orm = results.get('orm_ceiling')
    if imap or orm:
        head = ['Reference (same run)', 'messages', 'wall s', 'msg/s', 'CPU s / 1,000', 'peak RSS MiB']
        body = []
        if imap:
            body.append(['Odoo 18 IMAP fetchmail <- local Dovecot', _fmt(imap.get('messages'), 0),
                         _fmt(imap.get('wall_s'), 1), _fmt(imap.get('messages_per_s'), 1),
                         _fmt(imap.get('cpu_s_per_1000'), 2), _fmt(imap.get('peak_rss_mib'))])
        if orm:
            body.append(['ORM create() ceiling, 1,000-row batches', _fmt(orm.get('rows'), 0),
                         _fmt(orm.get('wall_s'), 2),
                         _fmt(orm.get('rows_per_s')), _fmt(orm.get('cpu_s', 0) / max(orm.get('rows', 1), 1) * 1000, 3),
                         _fmt(orm.get('peak_rss_mib'))])
        if orm.get('sql_upsert'):
            sql = orm['sql_upsert']
            runs = sql.get('runs_rows_per_s') or []
            label = 'same rows, bare INSERT ... ON CONFLICT (SQL)' + (f', fastest of {len(runs)}' if runs else '')
            body.append([label, _fmt(sql.get('rows'), 0),
                         _fmt(sql.get('wall_s'), 2), _fmt(sql.get('rows_per_s')),
                         _fmt(sql.get('cpu_s', 0) / max(sql.get('rows', 1), 1) * 1000, 3),
                         _fmt(sql.get('peak_rss_mib'))])
        lines += _grid(head, body)
        sql_runs = (orm.get('sql_upsert') or {}).get('runs_rows_per_s')
        if sql_runs:
            lines.append('bare INSERT runs (rows/s): ' + ', '.join(_fmt(value) for value in sql_runs))
        for size, data in _sizes(results):
            rate = _get(data, 'initial', 'messages_per_s')
            if rate and orm.get('rows_per_s'):
                parts = [f'{rate / orm["rows_per_s"]:.2f}x ORM create()']
                if sql_rate(results, data):
                    adjacent = _get(data, 'sql_ceiling', 'runs_rows_per_s')
                    rows = _get(data, 'sql_ceiling', 'rows')
                    where = (f' of {_fmt(rows)} rows, alternating with it: '
                             + ', '.join(_fmt(value) for value in adjacent) + ' rows/s' if adjacent else '')
                    parts.append(f'{rate / sql_rate(results, data):.2f}x bare SQL{where} (target >= 0.8)')
                syncs = _get(data, 'initial', 'runs_messages_per_s')
                if syncs:
                    parts.append('its runs: ' + ', '.join(_fmt(value) for value in syncs) + ' msg/s')
                lines.append(f'MailDesk initial sync ({int(size):,}) vs the same run: ' + ', '.join(parts))
    ratio, size = maildesk_vs_imap(results)
    if ratio:
        lines.append(f'MailDesk / built-in IMAP throughput ({size:,} messages): {ratio:,.1f}x')
    targets = results.get('targets') or []
    if targets:
        lines.append('')
        lines.append('Targets:')
        for t in targets:
            lines.append(f'  [{"met" if t["met"] else "MISSED"}] {t["target"]}: {_fmt(t["value"], 2)}')
    for size, data in _sizes(results):
        prof = data.get('profile')
        if prof:
            lines.append('')
            lines.append(f'Hot path of the initial sync, {int(size):,} messages (cProfile, own time; {prof["path"]}):')
            lines += ['  ' + line for line in prof['top']['tottime'][:14]]
    for error in results.get('errors') or ():
        lines.append(f'FAILED part {error["part"]}: {error["error"].strip().splitlines()[-1]}')
    if results.get('maildesk_skipped'):
        lines.append(f'MailDesk measurements skipped: {results["maildesk_skipped"]}')
    return '\n'.join(lines)


def _grid(head, body):
    widths = [max(len(str(row[i])) for row in [head] + body) for i in range(len(head))]

    def fmt(row):
        return '| ' + ' | '.join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                 for i, (c, w) in enumerate(zip(row, widths, strict=False))) + ' |'
    sep = '|' + '|'.join('-' * (w + 2) if i == 0 else '-' * (w + 1) + ':' for i, w in enumerate(widths)) + '|'
    return ['', fmt(head), sep] + [fmt(row) for row in body]
