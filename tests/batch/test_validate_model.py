"""Validation: the pandera model on its own, and properties over arbitrary input (it never raises)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch.parse import parse_rows
from batch.rules import schema_problems
from schemas.codes import ROW_CODES
from schemas.columns import LABEL
from schemas.remittance import RemittanceRow
from tests.support.rows import ID_LI, ID_ZHANG, LI, ZHANG
from tests.support.validation import CHINESE, COLUMNS, FILE, ID_BAD_CHECK, UNIT, row, row_codes, run

# ----------------------------------------------------------------- pandera model


def _parsed(*rows: dict[str, str]) -> pl.DataFrame:
    frame = pl.DataFrame(
        [{"row_no": i + 2, **r} for i, r in enumerate(rows)],
        schema={"row_no": pl.Int64, **dict.fromkeys(COLUMNS, pl.String)},
    )
    return parse_rows(frame.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in COLUMNS))


def test_pandera_model_checks_values_with_default_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("PANDERA_")]:
        monkeypatch.delenv(var)
    rows = _parsed(row(member_account="10O1"), LI)
    problems = schema_problems(rows)
    assert problems.select("row_no", "code", "column").rows() == [(2, "R_ACCOUNT_FORMAT", "member_account")]
    from pandera.errors import SchemaErrors

    with pytest.raises(SchemaErrors):
        RemittanceRow.validate(rows, lazy=True)
    RemittanceRow.validate(_parsed(ZHANG, LI), lazy=True)  # a good frame passes


def test_pandera_model_checks_values_in_a_clean_interpreter() -> None:
    # No conftest, no PANDERA_* variables: the data checks must still run.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANDERA_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    script = (
        "import polars as pl\n"
        "from batch.parse import parse_rows\n"
        "from batch.rules import schema_problems\n"
        "cols = ['member_account','name','id_type','id_number','base','employer_rate','employee_rate',"
        "'employer_amount','employee_amount','total_amount','contribution_month']\n"
        "vals = ['10O1','张三','01','11010519491231002X','5000','12%','12%','600','600','1200','202611']\n"
        "f = pl.DataFrame({'row_no': [2], **{c: [v] for c, v in zip(cols, vals)}})\n"
        "print(sorted(schema_problems(parse_rows(f))['code'].to_list()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "['R_ACCOUNT_FORMAT']"


# ----------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.sampled_from([FILE, f"{UNIT}_202611.xlsx", "x.bin", f"{UNIT}_202612.csv"]))
def test_arbitrary_bytes_never_raise(data: bytes, name: str) -> None:
    report = run(data=data, name=name, strict_ids=False)
    assert report.file_problems
    assert not report.ok
    assert report.row_problems.height == 0


_CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "1001",
            "1002",
            "9999",
            "2001",
            "张三",
            "李四",
            "01",
            "1",
            "99",
            "07",
            ID_ZHANG,
            ID_ZHANG.lower(),
            ID_LI,
            ID_BAD_CHECK,
            "2330",
            "5,000.00",
            "5000",
            "-1",
            "1e3",
            "12%",
            "12",
            "0.12",
            "13%",
            "12.5%",
            "280",
            "600",
            "560",
            "1200",
            "202611",
            "202612",
            "2026-11",
            "１２",
            "0",
            "0.005",
            "99999999999999",
            "999,999,999,999.99",
        ]
    ),
    st.text(alphabet='0123456789.,-%Xx 张"\n', max_size=10),
    st.text(max_size=6),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_CELLS, min_size=11, max_size=11), min_size=1, max_size=8))
def test_arbitrary_rows_never_raise_and_report_consistently(cells: list[list[str]]) -> None:
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in cells]
    report = run(*rows, strict_ids=False)  # known codes, Chinese, masked, ok iff no problem
    if report.rows.height:
        data_rows = set(report.rows["row_no"].to_list())
        flagged = set(report.row_problems["row_no"].to_list())
        assert flagged <= data_rows
        assert report.row_problems["code"].is_in(list(ROW_CODES)).all()
        assert report.row_problems["column"].is_in(COLUMNS).all()
        assert report.rejected_rows == len(flagged)
    else:
        assert report.file_problems  # unreadable: said so at file level


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet='0123456789,."\n\r \t%-X张\ufeff\x00', max_size=120),
    st.sampled_from(["utf-8", "gb18030", "utf-8-sig"]),
)
def test_arbitrary_text_under_the_header_never_raises(text: str, encoding: str) -> None:
    data = (",".join(CHINESE) + "\n" + text).encode(encoding)
    report = run(data=data, strict_ids=False)
    if report.rows.height == 0:
        assert report.file_problems


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations(COLUMNS), st.booleans())
def test_column_order_never_matters(order: list[str], english: bool) -> None:
    header = list(order) if english else [LABEL[c] for c in order]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in (ZHANG, row(LI, name="李斯")):
        writer.writerow([r[c] for c in order])
    report = run(data=out.getvalue().encode())
    assert row_codes(report) == [(3, "R_NAME_MISMATCH", "name")]
