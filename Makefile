# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

PIP_VERSION := $(shell sed -n 's/^pip==//p' constraints.txt)

.PHONY: demo demo-web test soak lint bench lock clean

# Installs exactly the versions in constraints.txt: the ones the suite last passed with.
$(BIN)/hpf: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade 'pip==$(PIP_VERSION)'
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

demo: $(BIN)/hpf
	$(BIN)/hpf demo

# The demo's data kept in .demo/, three console users (ops, fin, look), and the console on http://127.0.0.1:8080/.
DEMO_DIR ?= .demo
demo-web: $(BIN)/hpf
	rm -rf $(DEMO_DIR)
	$(BIN)/hpf demo --keep $(DEMO_DIR)
	for u in ops:operator fin:finance look:viewer; do \
		echo demo-password-1 | $(BIN)/hpf --config $(DEMO_DIR)/hpf.toml users add $${u%%:*} --role $${u##*:} --password-stdin; done
	HPF_TODAY=2026-11-22 $(BIN)/hpf --config $(DEMO_DIR)/hpf.toml web

test: $(BIN)/hpf
	$(BIN)/pytest -q

# Fault injection with many more random SIGKILLs, on SQLite and PostgreSQL (opt-in, not part of `make test`).
# make soak KILLS=500 SEED=1234 replays a run's delays (the seed is printed).
KILLS ?= 200
soak: $(BIN)/hpf
	HPF_REQUIRE_SERVERS=1 HPF_SOAK_KILLS=$(KILLS) HPF_SOAK_SEED=$(SEED) HPF_SOAK_DBS=sqlite,postgresql \
		$(BIN)/pytest -q tests/system/test_faults.py

# make bench SCENARIOS="e2e small" runs some of: import validate e2e pg month-end month-end-pg scale idle small changes arrivals sftp startup console
bench: $(BIN)/hpf
	$(BIN)/python -m bench $(SCENARIOS)

# mypy: strict on the contracts, the core and the database edge (pyproject.toml), checked on every package.
lint: $(BIN)/hpf
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy schemas batch db sftp jobs

# After a dependency change: resolve afresh in a scratch venv, run the suite on it, then commit constraints.txt.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade pip
	.venv-lock/bin/pip install --quiet -e '.[test]'
	{ echo "# The versions the suite last passed with; make lock rewrites it (see the Makefile)."; \
	  .venv-lock/bin/pip freeze --all --exclude-editable | grep -v '^setuptools=='; } > constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .venv-lock .pytest_cache .hypothesis .mypy_cache .ruff_cache
