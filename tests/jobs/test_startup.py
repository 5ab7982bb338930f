"""The quick commands load no polars, pandera, paramiko or apscheduler: `hpf --help` answers at once.

Each command runs in a fresh interpreter (what an operator's shell starts),
which then lists the heavy packages it imported. Timing is `make bench`'s
(`startup` scenario); here only what makes it slow is asserted away.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.environments import prepare_database

HEAVY = ("polars", "pandera", "paramiko", "apscheduler", "psycopg", "openpyxl", "xlsxwriter", "pyarrow")

QUICK = [
    ["--help"],
    ["batches", "--help"],
    ["batches", "list"],
    ["batches", "list", "--json", "--unit", "0101000123"],
    ["batches", "show", "1"],
    ["accounts", "show", "100123000001"],
    ["accounts", "show", "999"],
    ["audit"],
    ["users", "list"],
]

_RUN = """
import json, sys
from jobs.cli import hpf
try:
    hpf(sys.argv[1:], prog_name="hpf")
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "heavy": sorted(m for m in %r if m in sys.modules)}), file=sys.stderr)
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("args", QUICK, ids=" ".join)
def test_quick_commands_load_nothing_heavy(args: list[str], config_file: Path) -> None:
    env = {"HPF_CONFIG": str(config_file), "HPF_TODAY": "2026-11-22"}
    prepare_database(env)
    done = subprocess.run(
        [sys.executable, "-c", _RUN % (HEAVY,), *args], env=env, capture_output=True, text=True, timeout=60
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["heavy"] == [], (args, result)
    assert result["code"] in (0, 1, None), done.stderr  # "999" and batch 1 do not exist: a clear refusal
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_command_that_validates_still_loads_what_it_needs(config_file: Path) -> None:
    """The lazy imports are where they are used: `hpf validate` gets polars and pandera and works."""
    env = {"HPF_CONFIG": str(config_file), "HPF_TODAY": "2026-11-22"}
    prepare_database(env)
    sample = Path(__file__).parents[2] / "samples" / "valid" / "0101000123_202611.csv"
    done = subprocess.run(
        [sys.executable, "-c", _RUN % (HEAVY,), "validate", "--json", str(sample)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] == 0 and {"polars", "pandera"} <= set(result["heavy"])
    assert json.loads(done.stdout)["status"] == "VALID"
