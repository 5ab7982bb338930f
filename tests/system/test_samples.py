"""Every sample gives its golden result through `hpf validate`, on SQLite and on PostgreSQL.

The samples are the demo's input and the documentation of each reason code,
so they must never drift from what the validator says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import hpf
from tests.support.environments import prepare_database
from tests.support.samples import SAMPLES, TODAY


def sample_cases(samples: Path = SAMPLES) -> list[tuple[Path, dict[str, object]]]:
    """(file, expectation) for every sample: valid files expect no codes."""
    cases: list[tuple[Path, dict[str, object]]] = [
        (f, {"codes": []}) for f in sorted((samples / "valid").iterdir()) if f.suffix in (".csv", ".xlsx")
    ]
    for folder in sorted(p for p in (samples / "invalid").iterdir() if p.is_dir()):
        expected = json.loads((folder / "expected.json").read_text("utf-8"))
        files = [f for f in sorted(folder.iterdir()) if f.name != "expected.json" and not f.name.endswith(".done")]
        cases += [(f, expected) for f in files]
    return cases


CASES = sample_cases(SAMPLES)


def _key(e: dict[str, object]) -> tuple[object, ...]:
    return (e["row_no"] is not None, e["row_no"] or 0, e["column"] or "", e["code"])


@pytest.fixture
def sample_db(config_file: Path) -> dict[str, str]:
    env = {"HPF_CONFIG": str(config_file), "HPF_TODAY": TODAY}
    prepare_database(env)
    return env


def test_there_is_a_sample_for_every_code() -> None:
    from schemas.codes import CHANGE_CODES, FILE_CODES, ROW_CODES

    covered = {c["code"] for _, expected in CASES for c in expected["codes"]}  # type: ignore[attr-defined]
    not_by_sample = {
        "F_DUPLICATE_FILE",
        "F_TOO_LARGE",
    }  # need a batch history / limits: tests/batch/test_validate_files.py
    assert {*FILE_CODES, *ROW_CODES, *CHANGE_CODES} - not_by_sample <= covered  # every code of SPEC §4
    assert any(not expected["codes"] for _, expected in CASES)


def test_samples_give_their_golden_results(sample_db: dict[str, str]) -> None:
    runner = CliRunner()
    for path, expected in CASES:
        args = ["validate", "--json", str(path)]
        if expected.get("inbox_unit"):
            args += ["--unit", str(expected["inbox_unit"])]
        marker = path.parent / f"{path.name}.done"
        if marker.exists():
            args += ["--marker", str(marker)]
        result = runner.invoke(hpf, args, env=sample_db)
        doc = json.loads(result.output)
        want = sorted(expected["codes"], key=_key)  # type: ignore[arg-type]
        got = sorted(({k: e[k] for k in ("code", "row_no", "column")} for e in doc["errors"]), key=_key)
        assert got == want, path.relative_to(SAMPLES)
        assert result.exit_code == (1 if want else 0), path
        assert doc["status"] == ("REJECTED" if want else "VALID")
        for error in doc["errors"]:
            assert error["message"].strip(), (path, error)


def test_demo_runs_the_whole_job(tmp_path: Path) -> None:
    result = CliRunner().invoke(hpf, ["demo", "--keep", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "账务检查通过" in result.output
    for status in ("POSTED", "APPLIED", "REJECTED", "DUPLICATE"):
        assert status in result.output
    outbox = tmp_path / "sftp" / "0101000123" / "outbox"
    stems = ("0101000123_202611", "0101000123_202611_draft", "0101000123_202611_resent", "BG_0101000123_202611")
    assert sorted(p.name for p in outbox.iterdir()) == sorted(
        f"{stem}.result.{ext}" for stem in stems for ext in ("csv", "json", "xlsx")
    )
    assert not list((tmp_path / "sftp" / "0101000123" / "inbox").iterdir())
    # The hire opened by the change list is paid by the list sent with it, the leaver's list posts without her.
    (hire,) = [line for line in (outbox / "BG_0101000123_202611.result.csv").read_text("utf-8-sig").splitlines()[1:]]
    account = hire.split(",")[2]
    assert f"新开户：孙悦 个人账号{account}" in result.output
    paid = (outbox / "0101000123_202611.result.csv").read_text("utf-8-sig").splitlines()[-1]
    assert paid.startswith(f"8,{account},孙悦,") and ",POSTED," in paid
    d = json.loads((tmp_path / "sftp" / "0101000321" / "outbox" / "0101000321_202611.result.json").read_text("utf-8"))
    assert (d["status"], d["rows"]) == ("POSTED", 3)


def test_the_bank_samples_are_valid_arrival_files_and_the_demo_books_them(tmp_path: Path) -> None:
    from batch.arrivals import read_arrivals

    files = sorted((SAMPLES / "bank").glob("DZTZ_*.txt"))
    assert len(files) == 2
    for path in files:
        got = read_arrivals(path.name, path.read_bytes(), accounts=["51050188360000000001"],
                            marker=path.with_name(path.name + ".done").read_bytes(), max_rows=100)  # fmt: skip
        assert got.ok, got.problems
    result = CliRunner().invoke(hpf, ["demo", "--keep", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "未识别到账888.00元" in result.output
    root = tmp_path / "sftp"
    b = json.loads((root / "0101000456" / "outbox" / "0101000456_202611.result.json").read_text("utf-8"))
    assert (b["status"], b["funded_by"]) == ("POSTED", ["CCB20261122000102", "CCB20261122000201"])
    d = json.loads((root / "0101000321" / "outbox" / "0101000321_202611.result.json").read_text("utf-8"))
    assert d["funded_by"] == ["CCB20261122000103"]  # found by its registered name alone
    booked = json.loads((root / "_bank" / "outbox" / files[0].name.replace(".txt", ".result.json")).read_text("utf-8"))
    assert [i["matched_by"] for i in booked["items"]] == ["reference", "unit_account", "name", "unidentified", "other"]
