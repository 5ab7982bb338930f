"""Validate one member change list (SPEC §3.2, §4): every file-level and row-level problem, all at once.

Like `batch.validate` for a remittance list: the file's bytes and what the
transport knows in, a `ChangeReport` out, nothing applied or raised for bad
data. The accounts each row acts on (given, found by the person's ID, or new)
are worked out here too, so the database edge only carries out
`ChangeReport.transitions()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from batch.changes import (
    ACCOUNT_STATE,
    Bounds,
    ChangeContext,
    ChangeList,
    effective,
    ordered,
    parse_change_list_name,
    read_change_list,
    roster_problems,
    targets,
    transitions,
)
from batch.filename import FileName
from batch.lookups import Employer, Lookups
from batch.manifest import Manifest, manifest_problems, parse_manifest
from batch.policy import next_month
from batch.rules import EMPTY
from batch.stopwatch import IDLE, Stopwatch
from batch.validate import Earlier, Submission, ValidationOptions, employer_of, size_problem
from schemas.change_types import Change
from schemas.codes import Problem
from schemas.statuses import STATUS_LABELS


def is_change_list(file_name: str) -> bool:
    """A change list's name starts with `BG_` (SPEC §3.2); anything else is judged as a remittance list."""
    return file_name[:3].upper() == "BG_"


@dataclass(frozen=True, slots=True)
class ChangeReport:
    """The outcome of validating one change list."""

    file_name: str
    sha256: str
    unit_account: str | None
    month: int | None
    file_problems: tuple[Problem, ...]
    row_problems: pl.DataFrame
    """row_no, code, column, message, member_account: one line per problem."""
    rows: pl.DataFrame
    """The data rows as written plus typed columns (change, base_fen, …); empty when unreadable."""
    accounts: pl.DataFrame
    """The account each row acts on, as it stood for the row's month (`batch.changes.ACCOUNT_STATE`)."""
    duplicate_of: int | None = None
    duplicate_status: str | None = None

    @property
    def ok(self) -> bool:
        return not self.file_problems and self.row_problems.height == 0

    @property
    def rejected_rows(self) -> int:
        return self.row_problems["row_no"].n_unique()

    def problems(self) -> list[Problem]:
        rows = [Problem(**d) for d in self.row_problems.iter_rows(named=True)]
        return [*self.file_problems, *rows]

    def transitions(self) -> pl.DataFrame:
        """What applying does, row by row (`batch.changes.TRANSITION`); only for a valid list."""
        assert self.ok and self.unit_account is not None
        return transitions(self.rows, self.accounts, self.unit_account)


_EMPTY_ROWS = pl.DataFrame(
    schema={"row_no": pl.Int64, "change_type": pl.String, "change": pl.String, "member_account": pl.String,
            "name": pl.String, "id_type": pl.String, "id_number": pl.String, "base": pl.String,
            "base_fen": pl.Int64, "reason": pl.String, "effective_month": pl.String}
)  # fmt: skip


def validate_changes(
    sub: Submission,
    options: ValidationOptions,
    lookups: Lookups,
    watch: Stopwatch = IDLE,
    *,
    duplicate_of: Earlier | None = None,
) -> ChangeReport:
    """Check a change list as SPEC §3.2 and §4 say; `duplicate_of` as for `batch.validate.validate`."""
    with watch.stage("validate"):
        if duplicate_of is not None:
            return _duplicate(sub, duplicate_of)
        return _validate(sub, options, lookups, watch)


def _duplicate(sub: Submission, earlier: Earlier) -> ChangeReport:
    name = parse_change_list_name(sub.file_name)
    assert isinstance(name, FileName), "only a well-named file can repeat a batch"
    outcome = STATUS_LABELS.get(earlier.status, earlier.status)
    message = (
        f"{name.unit_account}在{name.month}的同一变更清册（SHA-256 {sub.sha256[:12]}…）已由批次{earlier.batch_id}处理，"
        f"结果为{outcome}（{earlier.status}），本次不再处理"
    )
    return _report(
        sub,
        name,
        [Problem("F_DUPLICATE_FILE", message)],
        duplicate_of=earlier.batch_id,
        duplicate_status=earlier.status,
    )


def _validate(sub: Submission, options: ValidationOptions, lookups: Lookups, watch: Stopwatch) -> ChangeReport:
    if big := size_problem(len(sub.data) if sub.size is None else sub.size, options):
        return _report(sub, None, [big])
    problems: list[Problem] = []
    parsed = parse_change_list_name(sub.file_name)
    name = parsed if isinstance(parsed, FileName) else None
    if isinstance(parsed, Problem):
        problems.append(parsed)
    employer = _employer_and_month(name, sub, options, lookups, problems) if name else None
    manifest: Manifest | None = None
    if sub.marker is not None:
        read_marker = parse_manifest(sub.marker)
        if isinstance(read_marker, list):
            problems += read_marker
        else:
            manifest = read_marker
    with watch.stage("read"):
        read = read_change_list(sub.data, sub.file_name, month=name.month if name else 0, max_rows=options.max_rows)
    if not isinstance(read, ChangeList):
        return _report(sub, name, [*problems, *read])
    rows, found = read.rows, read.problems
    if manifest is not None:
        problems += manifest_problems(manifest, rows=rows.height, total_fen=None, sha256=sub.sha256)
    accounts = ACCOUNT_STATE.to_frame()
    if employer is not None and name is not None:
        accounts, roster = _against_roster(rows, employer, options, lookups, problems)
        found = ordered(pl.concat([found, roster]))
    acting = rows.select("row_no", pl.col("member_account").alias("given")).join(
        accounts.select("row_no", "member_account"), on="row_no", how="left"
    )
    found = found.join(acting, on="row_no", how="left", maintain_order="left").with_columns(
        pl.coalesce("member_account", "given").alias("member_account")
    )
    if found.height:
        n = found["row_no"].n_unique()
        problems.append(
            Problem("F_ROW_ERRORS", f"共{n}行有错误（{found.height}处），整个变更清册未办理，请改正后重新提交")
        )
    return _report(sub, name, problems, rows=rows, row_problems=found, accounts=accounts)


def _employer_and_month(
    name: FileName, sub: Submission, options: ValidationOptions, lookups: Lookups, problems: list[Problem]
) -> Employer | None:
    """The employer, after the unit and status checks; F_MONTH_FUTURE and F_MONTH_NOT_DUE for the file's month."""
    employer = employer_of(name, sub.inbox_unit, lookups, problems)
    if name.month > options.current_month:
        problems.append(
            Problem("F_MONTH_FUTURE", f"生效年月应不晚于当前月份{options.current_month}，实际为{name.month}")
        )
    elif employer is not None and employer.paid_through is not None and name.month <= employer.paid_through:
        earliest = next_month(employer.paid_through)
        problems.append(
            Problem(
                "F_MONTH_NOT_DUE",
                f"变更清册的月份应不早于{earliest}（单位已缴至{employer.paid_through}，已入账月份的人员不能再变更），"
                f"实际为{name.month}：{employer.paid_through}入账之后的变更从{earliest}起生效",
            )
        )
    return employer


def _against_roster(
    rows: pl.DataFrame, employer: Employer, options: ValidationOptions, lookups: Lookups, problems: list[Problem]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The accounts the rows act on and the problems only the roster can tell."""
    unit = employer.unit_account
    opening = rows.filter((pl.col("change") == Change.OPEN.value) & pl.col("id_number").is_not_null())
    holders = lookups.holders(
        unit, rows["member_account"].drop_nulls().unique(), opening.select("id_type", "id_number").unique()
    )
    earliest = rows.select(effective().min()).item()
    events = lookups.events_after(holders["member_account"], int(earliest) if earliest is not None else 0)
    accounts, people = targets(rows, holders, events, unit)
    bounds: list[Bounds] = []
    for p in options.policy.periods:
        floor = p.base_floor_fen.get(employer.wage_tier)
        if floor is not None:
            bounds.append(Bounds(p.first_month, p.last_month, floor, p.base_cap_fen))
    based = rows.filter(pl.col("base_fen").is_not_null()).select(effective().alias("m")).drop_nulls().unique()
    uncovered = sorted(m for m in based["m"] if not any(b.first_month <= m <= b.last_month for b in bounds))
    if uncovered:
        spans = "、".join(f"{p.first_month}–{p.last_month}" for p in options.policy.periods) or "无"
        months = "、".join(str(m) for m in uncovered)
        problems.append(
            Problem(
                "F_NO_POLICY",
                f"生效年月{months}没有配置{employer.wage_tier}类工资地区的缴存政策（已配置的期间：{spans}），"
                "无法检查缴存基数，请联系中心",
            )
        )
    ctx = ChangeContext(unit, employer.paid_through, options.current_month, tuple(bounds))
    return accounts, roster_problems(rows, accounts, people, ctx)


def _report(
    sub: Submission,
    name: FileName | None,
    problems: list[Problem],
    *,
    rows: pl.DataFrame | None = None,
    row_problems: pl.DataFrame | None = None,
    accounts: pl.DataFrame | None = None,
    duplicate_of: int | None = None,
    duplicate_status: str | None = None,
) -> ChangeReport:
    return ChangeReport(
        file_name=sub.file_name,
        sha256=sub.sha256,
        unit_account=name.unit_account if name else None,
        month=name.month if name else None,
        file_problems=tuple(problems),
        row_problems=EMPTY.with_columns(pl.lit(None, pl.String).alias("member_account"))
        if row_problems is None
        else row_problems.select("row_no", "code", "column", "message", "member_account"),
        rows=_EMPTY_ROWS if rows is None else rows,
        accounts=ACCOUNT_STATE.to_frame() if accounts is None else accounts,
        duplicate_of=duplicate_of,
        duplicate_status=duplicate_status,
    )
