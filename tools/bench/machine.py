"""What the numbers were measured on: git commit, CPU, cores, RAM, Python / Odoo / PostgreSQL / Dovecot versions."""
import os
import platform
import re
import subprocess


def _run(cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ''


def git_info(repo):
    commit = _run(['git', 'rev-parse', 'HEAD'], repo)
    # other engineers' untracked files make the tree "dirty" often: count only modified tracked files
    modified = [line for line in _run(['git', 'status', '--porcelain', '--untracked-files=no'], repo).splitlines()
                if line.strip()]
    return {'commit': commit, 'commit_short': commit[:10], 'subject': _run(['git', 'log', '-1', '--format=%s'], repo),
            'modified_tracked_files': len(modified)}


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
    import odoo  # noqa: PLC0415 - the driver has found Odoo before calling this
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
    try:
        info['loadavg_at_start'] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info


def describe(machine):
    return ('%(cpu_model)s, %(cores)s cores, %(ram_gib)s GiB RAM, %(os)s (kernel %(kernel)s); '
            'Python %(python)s, Odoo %(odoo)s, PostgreSQL %(postgres)s, Dovecot %(dovecot)s' % machine)
