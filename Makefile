# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/hpf: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/hpf
	$(BIN)/hpf demo

test: $(BIN)/hpf
	$(BIN)/pytest -q

# make bench SCENARIOS="e2e small" runs some of: import validate e2e pg small sftp
bench: $(BIN)/hpf
	$(BIN)/python -m tests.bench $(SCENARIOS)

lint: $(BIN)/hpf
	$(BIN)/ruff check .
	$(BIN)/mypy batch schemas

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache
