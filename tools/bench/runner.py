"""Driver-side plumbing: the template database, clones per measurement, Odoo worker processes, DB polling.

Worker logs go to ``<run dir>/NN-scenario.log`` at WARNING; ``BENCH_LOG='--log-handler=odoo.addons.maildesk:DEBUG'``
(any Odoo logging option) changes that, e.g. to see every Graph request.
"""
import json
import os
import subprocess
import sys
import threading
import time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, 'worker.py')
MARK = '@@BENCH '
TEMPLATE_DB = 'bench_template'


class WorkerFailed(RuntimeError):
    pass


class Runner:
    """Owns the run directory, the PostgreSQL cluster handle and the Odoo command line."""

    def __init__(self, pg, odoo_root, addons_path, run_dir, log):
        self.pg = pg
        self.odoo_root = odoo_root
        self.addons_path = addons_path
        self.run_dir = run_dir
        self.log = log
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [odoo_root, os.environ.get('PYTHONPATH')])))
        self._n = 0

    # -- databases --------------------------------------------------------------------------------------------
    def connect(self, dbname='postgres'):
        conn = psycopg2.connect(host=self.pg.host, port=self.pg.port, user=self.pg.user, dbname=dbname)
        conn.autocommit = True
        return conn

    def odoo_args(self, dbname, log_name):
        return [f'--addons-path={self.addons_path}', *self.pg.odoo_args(), '-d', dbname,
                f'--data-dir={os.path.join(self.run_dir, "filestore")}', '--without-demo=all',
                f'--logfile={os.path.join(self.run_dir, log_name)}', os.environ.get('BENCH_LOG', '--log-level=warn'),
                '--max-cron-threads=0']

    def build_template(self):
        """Install maildesk once; every measurement runs on a fresh CREATE DATABASE ... TEMPLATE copy."""
        log_path = os.path.join(self.run_dir, 'install.log')
        cmd = [sys.executable, '-m', 'odoo', *self.odoo_args(TEMPLATE_DB, 'install.log'), '-i', 'maildesk',
               '--stop-after-init', '--log-level=info']
        started = time.time()
        proc = subprocess.run(cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, check=False)
        if proc.returncode:
            tail = open(log_path, errors='replace').read()[-3000:] if os.path.exists(log_path) else ''
            raise WorkerFailed(f'installing maildesk failed (exit {proc.returncode}):\n{tail}')
        conn = self.connect(TEMPLATE_DB)
        with conn.cursor() as cr:
            # other crons (mail queue, garbage collection...) stay out of the cron-driven measurements
            cr.execute("UPDATE ir_cron SET nextcall = now() + interval '30 days' WHERE id NOT IN ("
                       "SELECT res_id FROM ir_model_data WHERE model = 'ir.cron' AND module = 'maildesk')")
        conn.close()
        return time.time() - started

    def clone(self, name, template=TEMPLATE_DB):
        conn = self.connect()
        with conn.cursor() as cr:
            cr.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cr.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        conn.close()
        return name

    def drop(self, name):
        conn = self.connect()
        with conn.cursor() as cr:
            cr.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()

    def query(self, dbname, sql, params=None):
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cr:
                cr.execute(sql, params)
                return cr.fetchall()
        finally:
            conn.close()

    def execute(self, dbname, sql):
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cr:
                cr.execute(sql)
        finally:
            conn.close()

    # -- workers ----------------------------------------------------------------------------------------------
    def start_worker(self, scenario, params, dbname):
        """Start one Odoo worker process; returns a WorkerProcess (call .result())."""
        self._n += 1
        name = f'{self._n:02d}-{scenario}'
        cmd = [sys.executable, WORKER, scenario, json.dumps(params), '--',
               *self.odoo_args(dbname, f'{name}.log')]
        return WorkerProcess(name, cmd, self.env, os.path.join(self.run_dir, f'{name}.out'))

    def run_worker(self, scenario, params, dbname, on_start=None, timeout=3600):
        worker = self.start_worker(scenario, params, dbname)
        return worker.result(on_start=on_start, timeout=timeout)


class WorkerProcess:
    def __init__(self, name, cmd, env, out_path):
        self.name = name
        self.out_path = out_path
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors='replace')
        self.pid = self.proc.pid

    def go(self):
        self.proc.stdin.write('go\n')
        self.proc.stdin.flush()

    def result(self, on_start=None, on_ready=None, timeout=3600):
        result = None
        timer = threading.Timer(timeout, self.proc.kill)
        timer.start()
        try:
            with open(self.out_path, 'w') as out:
                for line in self.proc.stdout:
                    if not line.startswith(MARK):
                        out.write(line)
                        continue
                    event = json.loads(line[len(MARK):])
                    if event['event'] == 'start' and on_start:
                        on_start(event)
                    elif event['event'] == 'ready' and on_ready:
                        on_ready(event)
                    elif event['event'] == 'result':
                        result = event
            self.proc.wait()
        finally:
            timer.cancel()
        if result is None or self.proc.returncode:
            tail = open(self.out_path, errors='replace').read()[-4000:]
            raise WorkerFailed(f'{self.name} failed (exit {self.proc.returncode}); output tail:\n{tail}')
        result.pop('event', None)
        return result


def run_parallel(runner, scenario, params, dbname, count, timeout=3600):
    """``count`` workers of ``scenario`` that start together: each loads its registry and says ready, then all
    are told to go at once (registry loading is not part of what they measure). Returns their results."""
    workers = [runner.start_worker(scenario, params, dbname) for _ in range(count)]
    ready = [threading.Event() for _ in workers]
    results, failures = [None] * count, []

    def wait(i):
        try:
            results[i] = workers[i].result(on_ready=lambda _e: ready[i].set(), timeout=timeout)
        except WorkerFailed as exc:
            failures.append(exc)
            ready[i].set()
    threads = [threading.Thread(target=wait, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for event in ready:
        event.wait(timeout)
    for worker in workers:
        if failures:
            worker.proc.kill()
        else:
            worker.go()
    for thread in threads:
        thread.join(timeout)
    if failures:
        raise failures[0]
    return results


class Poller:
    """Polls the database (own connection) until ``sql`` returns a truthy first column; records when."""

    def __init__(self, runner, dbname, sql, params=None, interval=0.005, timeout=600):
        self.runner, self.dbname, self.sql, self.params = runner, dbname, sql, params
        self.interval, self.timeout = interval, timeout
        self.t_start = None
        self.t_hit = None
        self._thread = None

    def on_start(self, event):
        self.t_start = event['t']
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self):
        conn = self.runner.connect(self.dbname)
        deadline = time.time() + self.timeout
        try:
            with conn.cursor() as cr:
                while time.time() < deadline:
                    cr.execute(self.sql, self.params)
                    if cr.fetchone()[0]:
                        self.t_hit = time.time()
                        return
                    time.sleep(self.interval)
        finally:
            conn.close()

    def elapsed(self, wait=30):
        if self._thread:
            self._thread.join(wait)
        if self.t_hit is None or self.t_start is None:
            return None
        return round(self.t_hit - self.t_start, 4)
