# MailDesk — one command each. Odoo 18 is found by `import odoo` or ODOO_PATH.
PYTHON ?= python3

.PHONY: test demo emulator bench stress pytest lint pot upgrade-test

test:          ## the full test suite (pytest + Odoo tests on a throwaway PostgreSQL)
	$(PYTHON) tools/run_tests.py

lint:          ## ruff (ruff.toml) + pylint-odoo's Odoo checks (.pylintrc); make test runs it too
	$(PYTHON) tools/lint.py

pytest:        ## only the plain-Python tests of graph/ and emulator/
	$(PYTHON) tools/run_tests.py --only pytest

demo:          ## Odoo + MailDesk + the Microsoft emulator on http://localhost:8069
	$(PYTHON) tools/demo.py

emulator:      ## the Microsoft identity + Graph emulator alone
	$(PYTHON) -m emulator --port 8443 --state-dir .demo/emulator

bench:         ## benchmarks (not part of CI)
	$(PYTHON) tools/bench.py
	$(PYTHON) tools/bench_push.py
	$(PYTHON) tools/bench_bulk.py
	$(PYTHON) tools/bench_gateway.py
	$(PYTHON) tools/bench_prefetch.py
	$(PYTHON) tools/bench_workers.py

stress:        ## crash-safety stress run (not part of CI)
	$(PYTHON) tools/stress.py

pot:           ## export i18n/maildesk.pot with Odoo's exporter and merge it into i18n/*.po
	$(PYTHON) tools/export_pot.py

upgrade-test:  ## install the previous release, fill it, -u maildesk with this code, compare (make test runs it)
	$(PYTHON) tools/upgrade_test.py
