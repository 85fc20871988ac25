"""What the numbers were measured on: git commit, CPU, cores, RAM, Python / Odoo / PostgreSQL / Dovecot versions."""
import contextlib
import hashlib
import os
import platform
import re
import subprocess


def _run(cmd, cwd=None, strip=True):
    try:
        out = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             timeout=20, check=False).stdout
        return out.strip() if strip else out
    except (OSError, subprocess.SubprocessError):
        return ''


CODE_DIRS = ('models', 'engine', 'graph', 'controllers', 'wizard', 'data', 'security', 'views', 'static', 'migrations',
             'emulator', 'tools', '__init__.py', '__manifest__.py')


def git_info(repo):
    """The commit, plus what of the measured code differs from it: in a shared checkout the sync engine may be
    uncommitted work, so the modified / untracked code files are listed and fingerprinted (sha256 of contents)."""
    commit = _run(['git', 'rev-parse', 'HEAD'], repo)
    status = _run(['git', 'status', '--porcelain', '--untracked-files=all', '--', *CODE_DIRS], repo,
                  strip=False).splitlines()
    changed = sorted(line[3:] for line in status
                     if line.strip() and line[3:].endswith(('.py', '.xml', '.csv', '.js', '.scss')))
    digest = hashlib.sha256()
    for path in changed:
        full = os.path.join(repo, path)
        digest.update(path.encode())
        if os.path.isfile(full):
            with open(full, 'rb') as fh:
                digest.update(fh.read())
    return {'commit': commit, 'commit_short': commit[:10], 'subject': _run(['git', 'log', '-1', '--format=%s'], repo),
            'uncommitted_code_files': changed, 'uncommitted_fingerprint': digest.hexdigest()[:16] if changed else None}


def _cpu_model():
    try:
        for line in open('/proc/cpuinfo'):
            if line.lower().startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def _mem_total_gib():
    try:
        for line in open('/proc/meminfo'):
            if line.startswith('MemTotal:'):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(text):
    match = re.search(r'\d+(\.\d+)+', text or '')
    return match.group(0) if match else (text or None)


def machine_info(pg_bin_dir=None, dovecot_bin='/usr/sbin/dovecot'):
    import odoo
    info = {
        'cpu_model': _cpu_model(),
        'cores': os.cpu_count(),
        'ram_gib': _mem_total_gib(),
        'kernel': platform.release(),
        'os': _run(['sh', '-c', '. /etc/os-release && echo "$PRETTY_NAME"']) or platform.platform(),
        'python': platform.python_version(),
        'odoo': odoo.release.version,
        'postgres': _version(_run([os.path.join(pg_bin_dir, 'postgres'), '--version'])) if pg_bin_dir else None,
        'dovecot': _version(_run([dovecot_bin, '--version'])) if os.path.exists(dovecot_bin) else None,
    }
    with contextlib.suppress(OSError):
        info['loadavg_at_start'] = [round(x, 2) for x in os.getloadavg()]
    return info


def describe(machine):
    return ('%(cpu_model)s, %(cores)s cores, %(ram_gib)s GiB RAM, %(os)s (kernel %(kernel)s); '
            'Python %(python)s, Odoo %(odoo)s, PostgreSQL %(postgres)s, Dovecot %(dovecot)s' % machine)
