"""Helpers of ``make bench`` (tools/bench.py): machine description, Dovecot baseline, Odoo-side worker, report."""
