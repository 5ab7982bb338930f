# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test soak lint bench clean

$(BIN)/hpf: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/hpf
	$(BIN)/hpf demo

test: $(BIN)/hpf
	$(BIN)/pytest -q

# Fault injection with many more random SIGKILLs, on SQLite and PostgreSQL (opt-in, not part of `make test`).
# make soak KILLS=500 SEED=1234 replays a run's delays (the seed is printed).
KILLS ?= 200
soak: $(BIN)/hpf
	HPF_REQUIRE_SERVERS=1 HPF_SOAK_KILLS=$(KILLS) HPF_SOAK_SEED=$(SEED) HPF_SOAK_DBS=sqlite,postgresql \
		$(BIN)/pytest -q tests/test_faults.py

# make bench SCENARIOS="e2e small" runs some of: import validate e2e pg small sftp
bench: $(BIN)/hpf
	$(BIN)/python -m tests.bench $(SCENARIOS)

lint: $(BIN)/hpf
	$(BIN)/ruff check .
	$(BIN)/mypy batch schemas

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache
