"""Validate one remittance file: every file-level and row-level rule of SPEC §4, all at once.

`validate` takes the file's bytes, what the transport knows about it (inbox,
marker), the options in force and a way to look up master data, and returns a
`Report`: nothing is posted, written or raised for bad data. The pipeline and
`hpf validate` call this same function. Whether the file is a duplicate is
the register's to say: the caller asks it first (by `Submission.sha256`) and
passes the earlier batch in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from batch import rules
from batch.filename import FileName, parse_file_name
from batch.lookups import Employer, Lookups
from batch.manifest import Manifest, manifest_problems, parse_manifest
from batch.parse import parse_rows, parse_rows_many
from batch.policy import Period, Policy
from batch.read import Table, read_table
from batch.stopwatch import IDLE, Stopwatch
from schemas.codes import Problem
from schemas.columns import BY_NAME
from schemas.master import MEMBER
from schemas.statuses import EMPLOYER_STATUSES, FILING_STATUSES, STATUS_LABELS


@dataclass(frozen=True, slots=True)
class Submission:
    """A file as the transport hands it over."""

    file_name: str
    data: bytes
    inbox_unit: str | None = None
    """The employer whose inbox the file came from (`--unit`); None when unknown."""
    marker: bytes | None = None
    """The content of `<file>.done`, when there is one."""
    size: int | None = None
    """The size the server reported, for a file too large to fetch (`data` is then empty)."""
    sha256: str = field(init=False)
    """Hex SHA-256 of `data`; empty for a file too large to fetch, which has no bytes to hash."""

    def __post_init__(self) -> None:
        unread = self.size is not None and not self.data
        object.__setattr__(self, "sha256", "" if unread else hashlib.sha256(self.data).hexdigest())


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """What validation needs of the settings: the policy, today, and the size limits."""

    policy: Policy
    today: date
    max_file_bytes: int
    max_rows: int

    @property
    def current_month(self) -> int:
        return self.today.year * 100 + self.today.month


@dataclass(frozen=True, slots=True)
class Earlier:
    """A standing batch that already took the same bytes for the same kind, employer and month."""

    batch_id: int
    status: str


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of validating one file."""

    file_name: str
    sha256: str
    unit_account: str | None
    month: int | None
    file_problems: tuple[Problem, ...]
    row_problems: pl.DataFrame
    """row_no, code, column, message, member_account: one line per problem."""
    rows: pl.DataFrame
    """The data rows as written plus typed columns (base_fen, …); empty when unreadable."""
    missing: pl.DataFrame
    """Active members of the employer with no row (`schemas.master.MEMBER`)."""
    duplicate_of: int | None = None
    duplicate_status: str | None = None
    """The outcome of the earlier batch a DUPLICATE repeats."""
    roster_version: int | None = None
    """The employer's roster version the rows were checked against (`batch.lookups.Employer`)."""

    @property
    def ok(self) -> bool:
        return not self.file_problems and self.row_problems.height == 0

    @property
    def total_fen(self) -> int:
        return int(self.rows["total_amount_fen"].sum() or 0) if self.rows.height else 0

    @property
    def rejected_rows(self) -> int:
        return self.row_problems["row_no"].n_unique()

    def problems(self) -> list[Problem]:
        """File problems first, then row problems in row order: the result's `errors`."""
        rows = [Problem(**d) for d in self.row_problems.iter_rows(named=True)]
        return [*self.file_problems, *rows]


NO_ID_TYPE_HINT = "；文件没有“证件类型”列，所有证件都按居民身份证检查：护照等其他证件请增加“证件类型”列（如护照填03）"

_EMPTY_ROWS = parse_rows(pl.DataFrame(schema={"row_no": pl.Int64, **dict.fromkeys(BY_NAME, pl.String)}))
"""The rows of a file that could not be read: the typed columns, no rows."""


def validate(
    sub: Submission,
    options: ValidationOptions,
    lookups: Lookups,
    watch: Stopwatch = IDLE,
    *,
    duplicate_of: Earlier | None = None,
) -> Report:
    """Check `sub` exactly as SPEC §4 says; see the module docstring. `watch` times read and validate.

    `duplicate_of` is the standing batch that took the same bytes for the same
    employer and month: then nothing else is checked (F_DUPLICATE_FILE comes first).
    """
    return validate_many([(sub, duplicate_of)], options, lookups, watch)[0]


def validate_many(
    subs: list[tuple[Submission, Earlier | None]], options: ValidationOptions, lookups: Lookups, watch: Stopwatch = IDLE
) -> list[Report]:
    """`validate` of several files at once, each report exactly what `validate` gives it alone.

    Their tables are parsed, and the pandera model and the rules run, once
    over all their rows (`parse.parse_rows_many`, `rules.row_problems_of_many`).
    """
    with watch.stage("validate"):
        read: list[Report | _Read] = [
            _duplicate(sub, earlier) if earlier is not None else _read(sub, options, lookups, watch)
            for sub, earlier in subs
        ]
        tables = [r for r in read if isinstance(r, _Read)]
        with watch.stage("read"):
            parsed = iter(parse_rows_many([r.table.frame for r in tables]) if tables else [])
        found = [r if isinstance(r, Report) else _prepare(r, next(parsed), options, lookups) for r in read]
        prepared = [f for f in found if isinstance(f, _Prepared)]
        problems = rules.row_problems_of_many([(f.rows, f.ctx) for f in prepared]) if prepared else []
        finished = iter(_finish(f, p) for f, p in zip(prepared, problems, strict=True))
        return [f if isinstance(f, Report) else next(finished) for f in found]


def _duplicate(sub: Submission, earlier: Earlier) -> Report:
    name = parse_file_name(sub.file_name)
    assert isinstance(name, FileName), "only a well-named file can repeat a batch"
    outcome = STATUS_LABELS.get(earlier.status, earlier.status)
    message = (
        f"{name.unit_account}在{name.month}的同一文件（SHA-256 {sub.sha256[:12]}…）已由批次{earlier.batch_id}处理，"
        f"结果为{outcome}（{earlier.status}），本次不再处理"
    )
    return _report(
        sub, sub.sha256, name, [Problem("F_DUPLICATE_FILE", message)],
        duplicate_of=earlier.batch_id, duplicate_status=earlier.status,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A readable file with its context, waiting for its row checks."""

    sub: Submission
    name: FileName | None
    problems: list[Problem]
    rows: pl.DataFrame
    ctx: rules.RuleContext
    id_type_column: bool
    members: pl.DataFrame | None


@dataclass(frozen=True, slots=True)
class _Read:
    """A file whose table was read, with what its name, marker and employer gave."""

    sub: Submission
    name: FileName | None
    problems: list[Problem]
    employer: Employer | None
    period: Period | None
    manifest: Manifest | None
    table: Table


def _read(sub: Submission, options: ValidationOptions, lookups: Lookups, watch: Stopwatch) -> Report | _Read:
    """The file-level checks and the table read; a Report if the file cannot be read."""
    size = len(sub.data) if sub.size is None else sub.size
    sha256 = sub.sha256
    if big := size_problem(size, options):
        return _report(sub, sha256, None, [big])

    problems: list[Problem] = []
    parsed_name = parse_file_name(sub.file_name)
    name = parsed_name if isinstance(parsed_name, FileName) else None
    if isinstance(parsed_name, Problem):
        problems.append(parsed_name)
    employer, period = _employer_and_month(name, sub, options, lookups, problems)

    manifest: Manifest | None = None
    if sub.marker is not None:
        parsed = parse_manifest(sub.marker)
        if isinstance(parsed, list):
            problems += parsed
        else:
            manifest = parsed

    with watch.stage("read"):
        table = read_table(sub.data, sub.file_name, max_rows=options.max_rows)
    if not isinstance(table, Table):
        return _report(sub, sha256, name, [*problems, *table])
    return _Read(sub, name, problems, employer, period, manifest, table)


def _prepare(r: _Read, rows: pl.DataFrame, options: ValidationOptions, lookups: Lookups) -> _Prepared:
    """What the row checks of a read file need, given its parsed rows: the marker's totals, the members, the context."""
    name, problems, employer = r.name, r.problems, r.employer
    if r.manifest is not None:
        totals = rows["total_amount_fen"]
        total = None if totals.null_count() else int(totals.sum())
        problems += manifest_problems(r.manifest, rows=rows.height, total_fen=total, sha256=r.sub.sha256)

    members = None
    month = name.month if name else None
    if employer is not None:
        members = lookups.members(employer.unit_account, rows["member_account"].drop_nulls().unique(), month=month)
        rows = accounts_by_id(rows, members, employer.unit_account)
    ctx = rules.RuleContext(
        month=month,
        unit_account=name.unit_account if name else None,
        employer=employer,
        period=r.period,
        rounding=options.policy.rounding_for(month, employer.rounding) if month and employer else None,
        members=members,
    )
    return _Prepared(r.sub, name, problems, rows, ctx, "id_type" in r.table.headers, members)


def _finish(f: _Prepared, row_problems: pl.DataFrame) -> Report:
    """The report of a prepared file, given its row problems."""
    rows, problems, employer = f.rows, f.problems, f.ctx.employer
    if not f.id_type_column and row_problems.height:
        # Without the column every number is checked as a resident ID: a passport is "invalid" for that.
        row_problems = row_problems.with_columns(
            pl.when(pl.col("code") == "R_ID_INVALID")
            .then(pl.col("message") + NO_ID_TYPE_HINT)
            .otherwise(pl.col("message"))
            .alias("message")
        )
    if row_problems.height:
        n = row_problems["row_no"].n_unique()
        problems.append(
            Problem("F_ROW_ERRORS", f"共{n}行有错误（{row_problems.height}处），整个文件未入账，请改正后重新提交")
        )
    missing = _missing(rows, f.members, employer)
    problems += [
        Problem(
            "F_ROSTER_MISSING",
            f"在册职工{m['member_account']}（{m['name']}）没有缴存行：正常状态的职工每月都应缴存，如已离职请先办理封存",
            member_account=m["member_account"],
        )
        for m in missing.iter_rows(named=True)
    ]
    return _report(
        f.sub, f.sub.sha256, f.name, problems, rows=rows, row_problems=row_problems, missing=missing,
        roster_version=employer.roster_version if employer else None,
    )  # fmt: skip


def _size_text(size: int) -> str:
    """Whole megabytes as such; anything else with its exact bytes, so limit and size never read alike."""
    mb = 1 << 20
    if size and size % mb == 0:
        return f"{size // mb}MB"
    return f"{size / mb:.1f}MB（{size}字节）" if size >= mb else f"{size}字节"


def _employer_and_month(
    name: FileName | None, sub: Submission, options: ValidationOptions, lookups: Lookups, problems: list[Problem]
) -> tuple[Employer | None, Period | None]:
    """File-level checks of the unit and the month; the employer and period when usable."""
    if name is None:
        return None, None
    employer = employer_of(name, sub.inbox_unit, lookups, problems)
    if name.month > options.current_month:
        problems.append(
            Problem(
                "F_MONTH_FUTURE",
                f"汇缴年月应不晚于当前月份{options.current_month}，实际为{name.month}（暂不支持提前汇缴）",
            )
        )
    elif employer is not None and employer.paid_through is not None:
        due = employer.due_months()
        if name.month not in due:
            waiting = f"，{'、'.join(map(str, sorted(employer.awaiting)))}的清册待缴款到账" if employer.awaiting else ""
            problems.append(
                Problem(
                    "F_MONTH_NOT_DUE",
                    f"汇缴年月应为单位的应缴月份{'或'.join(map(str, due))}（已缴至{employer.paid_through}{waiting}），"
                    f"实际为{name.month}",
                )
            )
    period = options.policy.period_for(name.month)
    if period is None:
        spans = "、".join(f"{p.first_month}–{p.last_month}" for p in options.policy.periods) or "无"
        problems.append(
            Problem(
                "F_NO_POLICY",
                f"汇缴年月{name.month}没有配置缴存政策（基数上下限、比例；已配置的期间：{spans}），请联系中心",
            )
        )
    elif employer is not None and employer.wage_tier not in period.base_floor_fen:
        problems.append(
            Problem(
                "F_NO_POLICY", f"汇缴年月{name.month}的缴存政策没有{employer.wage_tier}类工资地区的基数下限，请联系中心"
            )
        )
        period = None
    return employer, period


def accounts_by_id(rows: pl.DataFrame, members: pl.DataFrame, unit_account: str) -> pl.DataFrame:
    """Rows that leave 个人账号 empty take the account of the employer's member with their ID type and number (SPEC §3).

    Typically a new hire opened by a change list in the same cycle, whose
    number the employer does not know yet; an ID held by two of the
    employer's members identifies neither, and the row stays R_REQUIRED.
    """
    blank = rows["member_account"].is_null()
    if not blank.any():
        return rows
    roster = (
        members.filter(pl.col("unit_account") == unit_account)
        .select("id_type", "id_number", pl.col("member_account").alias("by_id"))
        .filter(pl.len().over("id_type", "id_number") == 1)
    )
    return (
        rows.join(roster, on=["id_type", "id_number"], how="left", maintain_order="left")
        .with_columns(pl.coalesce("member_account", "by_id").alias("member_account"))
        .drop("by_id")
    )


def employer_of(name: FileName, inbox_unit: str | None, lookups: Lookups, problems: list[Problem]) -> Employer | None:
    """The employer a file names, after F_UNIT_MISMATCH, F_EMPLOYER_UNKNOWN and F_EMPLOYER_STATUS (any kind of file)."""
    if inbox_unit is not None and inbox_unit != name.unit_account:
        problems.append(
            Problem("F_UNIT_MISMATCH", f"文件名中的单位账号应为所在目录的{inbox_unit}，实际为{name.unit_account}")
        )
    employer = lookups.employer(name.unit_account)
    if employer is None:
        problems.append(Problem("F_EMPLOYER_UNKNOWN", f"单位账号{name.unit_account}未登记"))
    elif employer.status not in FILING_STATUSES:
        status = EMPLOYER_STATUSES.get(employer.status, employer.status)
        problems.append(
            Problem(
                "F_EMPLOYER_STATUS",
                f"单位{name.unit_account}状态为{employer.status}（{status}），销户或封存的单位不能汇缴",
            )
        )
    return employer


def size_problem(size: int, options: ValidationOptions) -> Problem | None:
    """F_TOO_LARGE for a file over the limit, judged from its size alone (it is never read)."""
    if size <= options.max_file_bytes:
        return None
    limit, shown = _size_text(options.max_file_bytes), _size_text(size)
    return Problem("F_TOO_LARGE", f"文件大小应不超过{limit}，实际为{shown}，未读取")


def _missing(rows: pl.DataFrame, members: pl.DataFrame | None, employer: Employer | None) -> pl.DataFrame:
    if members is None or employer is None:
        return MEMBER.to_frame()
    active = members.filter((pl.col("unit_account") == employer.unit_account) & (pl.col("status") == "normal"))
    return active.join(rows.select("member_account"), on="member_account", how="anti").sort("member_account")


def _report(
    sub: Submission,
    sha256: str,
    name: FileName | None,
    problems: list[Problem],
    *,
    rows: pl.DataFrame | None = None,
    row_problems: pl.DataFrame | None = None,
    missing: pl.DataFrame | None = None,
    duplicate_of: int | None = None,
    duplicate_status: str | None = None,
    roster_version: int | None = None,
) -> Report:
    return Report(
        file_name=sub.file_name,
        sha256=sha256,
        unit_account=name.unit_account if name else None,
        month=name.month if name else None,
        file_problems=tuple(problems),
        row_problems=rules.EMPTY.with_columns(pl.lit(None, pl.String).alias("member_account"))
        if row_problems is None
        else row_problems,
        rows=_EMPTY_ROWS if rows is None else rows,
        missing=MEMBER.to_frame() if missing is None else missing,
        duplicate_of=duplicate_of,
        duplicate_status=duplicate_status,
        roster_version=roster_version,
    )
