"""The tables: SQLAlchemy Core definitions (bulk statements, no per-row ORM objects).

The schema itself is created only by the Alembic migrations in
`db/migrations`, which run unchanged on SQLite and PostgreSQL; the tables
here must match them (a test compares the two).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from schemas.change_types import Change
from schemas.roles import USER_NAME_CHARS, Role
from schemas.sizes import EMPLOYER_NAME_CHARS, ID_CHARS, NAME_CHARS
from schemas.statuses import EMPLOYER_STATUSES, MEMBER_STATUSES, BatchStatus, Step

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


def _listed(codes: Iterable[str]) -> str:
    """`'A','B'` for a CHECK constraint: the codes come from our own enums, never from data."""
    return ",".join(f"'{code}'" for code in codes)


Id = BigInteger().with_variant(Integer, "sqlite")
"""64-bit ids; SQLite needs INTEGER for its rowid alias."""

employers = Table(
    "employers",
    metadata,
    Column("unit_account", String(20), primary_key=True),
    Column("name", String(EMPLOYER_NAME_CHARS), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("status", String(2), nullable=False),
    Column("employer_rate_bp", Integer, nullable=False),
    Column("employee_rate_bp", Integer, nullable=False),
    Column("wage_tier", SmallInteger, nullable=False),
    Column("rounding", String(16)),
    Column("paid_through", Integer),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Raised by every change list that touches the employer's roster: a posting validated against an
    # older roster finds it moved and is refused (then validated again), never posted on stale checks.
    Column("roster_version", Integer, nullable=False, server_default="0"),
    # The employer's paying bank account (发薪账号), for matching a credit that names nothing else (SPEC §9 rule 4).
    Column("payer_account", String(40)),
    CheckConstraint(f"status IN ({_listed(EMPLOYER_STATUSES)})", name="status"),
    CheckConstraint("employer_rate_bp BETWEEN 0 AND 10000 AND employee_rate_bp BETWEEN 0 AND 10000", name="rates"),
)

members = Table(
    "members",
    metadata,
    Column("member_account", String(20), primary_key=True),
    Column("unit_account", String(20), ForeignKey("employers.unit_account"), nullable=False),
    Column("name", String(NAME_CHARS), nullable=False),
    Column("id_type", String(2), nullable=False),
    Column("id_number", String(ID_CHARS), nullable=False),
    Column("base_fen", BigInteger, nullable=False),
    Column("status", String(8), nullable=False),
    Column("paid_through", Integer),
    Column("balance_fen", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"status IN ({_listed(MEMBER_STATUSES)})", name="status"),
    CheckConstraint("base_fen >= 0", name="base"),
    # Members by employer, their status inside the index: the reconciliation counts each
    # employer's active members from the index alone (20,000 employers: 186 -> 30 ms).
    Index("ix_members_unit_account_status", "unit_account", "status"),
    Index(None, "id_number"),  # a person is found by ID (a change list's 开户)
    # The newest master-data change, part of the console's reconciliation stamp (`db.reconcile.stamp`),
    # read from the index's end: 52 ms of scanning 500,000 members -> 0.1 ms. Postings never set it.
    Index(None, "updated_at"),
    # Every posting rewrites the balance of each of the employer's members, usually every
    # row of a page: with half of each page free, PostgreSQL puts the new versions beside the
    # old (HOT) and touches no index. At 80 a posting's member update took 2.2 times as long.
    # (PostgreSQL's fill factor is set by `on_postgresql`.)
)

batches = Table(
    "batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("file_name", String(255), nullable=False),
    Column("unit_account", String(20), nullable=False),
    Column("file_size", BigInteger, nullable=False),
    Column("file_mtime", BigInteger, nullable=False),
    Column("month", Integer),
    Column("sha256", String(64)),
    Column("status", String(16), nullable=False),
    Column("step", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("rows", Integer),
    Column("posted_rows", Integer),
    Column("rejected_rows", Integer),
    Column("total_fen", BigInteger),
    Column("posted_fen", BigInteger),
    Column("duplicate_of", Id, ForeignKey("batches.id")),
    Column("prev_paid_through", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Its result files changed after they were published (a reversal): the next cycle uploads them again.
    Column("republish", Boolean, nullable=False, server_default="0"),
    # The day (centre's time zone) it last became AWAITING_FUNDS: its expiry clock (SPEC §9).
    Column("awaiting_since", Date),
    # The roster version a valid list was checked against: a change list since then supersedes it.
    Column("roster_version", Integer),
    CheckConstraint(f"status IN ({_listed(BatchStatus)})", name="status"),
    CheckConstraint(f"step IN ({_listed(Step)})", name="step"),
    # One batch per arrival: two workers that see the same upload cannot both take it.
    UniqueConstraint("unit_account", "file_name", "file_size", "file_mtime", name="uq_batches_arrival"),
    Index(None, "sha256"),
    Index("ix_batches_status", "status", "unit_account", "month"),
)

batch_events = Table(
    "batch_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id, ForeignKey("batches.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("status", String(16), nullable=False),
    Column("step", String(12), nullable=False),
    Column("message", Text),
    Index(None, "batch_id"),
)

batch_results = Table(
    "batch_results",
    metadata,
    Column("batch_id", Id, ForeignKey("batches.id"), primary_key=True),
    Column("name", String(255), primary_key=True),
    # gzip (a workbook as it is: already deflated), written with the outcome:
    # a crash before upload republishes the very same files.
    Column("content", LargeBinary, nullable=False),
)

results_due = Table(
    "results_due",
    metadata,
    # A batch's results to be told again from its stored files (a list posted from suspense):
    # the restatement is written with the outcome and the files are drawn from it when read,
    # kept in batch_results before they are uploaded. Telling twenty thousand lists again in
    # the postings' transactions held the database's one writer three times as long.
    Column("batch_id", Id, ForeignKey("batches.id"), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("posted_rows", Integer, nullable=False),
    Column("posted_fen", BigInteger, nullable=False),
    Column("extra", Text),
    Column("detail_rows", Integer, nullable=False),
)

deposits = Table(
    "deposits",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # No foreign keys on the ledger's two append-only tables: PostgreSQL checks them one row
    # at a time (a million trigger calls per large posting, most of its time). Posting inserts
    # only by joining members, in the transaction that decides its batch; `ledger.verify`
    # checks that every deposit and entry has its member and batch.
    Column("batch_id", Id, nullable=False),
    Column("member_account", String(20), nullable=False),
    Column("month", Integer, nullable=False),
    Column("employer_fen", BigInteger, nullable=False),
    Column("employee_fen", BigInteger, nullable=False),
    Column("prev_paid_through", Integer),
    Column("reversed", Boolean, nullable=False, server_default="0"),
    # A deposit is itself the member's side of the transfer: its two parts are the member's two
    # credits, booked on `booked_on`, and a reversal debits them back on `reversed_on`. The other
    # side is the batch's counter entries (CONTROL or the employer's suspense) in `entries`. Two
    # member entries per deposit were two thirds of a posting's rows (1M rows on PostgreSQL: 6.4 s
    # of 15.4). Null days only on deposits from before the migration that found none.
    Column("booked_on", Date),
    Column("reversed_on", Date),
    CheckConstraint("employer_fen >= 0 AND employee_fen >= 0", name="amounts"),
    Index(None, "batch_id", "member_account"),
    # A member's statement reads its standing deposits by the unique index below and its reversed ones
    # by this one. Reversals are rare and a posting inserts only standing deposits, so it never
    # writes here (an index of every deposit by member would cost each posting a third index).
    Index("ix_deposits_reversed", "member_account", sqlite_where=text("reversed")),
    # Exactly once: at most one standing deposit per member and month, whoever posts it.
    Index(
        "uq_deposits_member_month",
        "member_account",
        "month",
        unique=True,
        sqlite_where=text("NOT reversed"),
    ),
)

entries = Table(
    "entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id, nullable=False),  # no foreign key: see deposits
    Column("kind", String(8), nullable=False),
    # A batch's counter side, per part: CONTROL (immediate mode) or the employer's suspense. The
    # members' side is the batch's deposits (see deposits); migration 0009 moved it there.
    Column("account", String(24), nullable=False),
    Column("part", String(8), nullable=False),
    Column("month", Integer, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The centre's day it was booked on (its time zone; HPF_TODAY in a replay): the reconciliation's period.
    # Null for entries booked before funds existed: their created_at's date stands in.
    Column("booked_on", Date),
    CheckConstraint("kind IN ('deposit','reversal')", name="kind"),
    CheckConstraint("part IN ('employer','employee')", name="part"),
    Index(None, "account"),
    Index(None, "batch_id"),
)

member_events = Table(
    "member_events",
    metadata,
    # Append-only, like the ledger (and, like it, no foreign keys: `hpf verify` checks members and batches).
    # A member's state for month M is the old values of its earliest event after M, else its members row.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_account", String(20), nullable=False),
    Column("batch_id", Id, nullable=False),
    Column("month", Integer, nullable=False),
    Column("change", String(8), nullable=False),
    Column("reason", String(2)),
    # The old values are null for an account this event opened.
    Column("old_unit", String(20)),
    Column("new_unit", String(20), nullable=False),
    Column("old_status", String(8)),
    Column("new_status", String(8), nullable=False),
    Column("old_base_fen", BigInteger),
    Column("new_base_fen", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"change IN ({_listed(Change)})", name="change"),
    Index(None, "member_account", "month"),
    Index(None, "month"),
    Index(None, "batch_id"),
)

account_numbers = Table(
    "account_numbers",
    metadata,
    # The last member account number given out: new accounts are taken above it and above every account
    # ever held, so a number is never given twice even if its member row were gone.
    Column("name", String(16), primary_key=True),
    Column("last", BigInteger, nullable=False),
)
MEMBER_SEQUENCE = "member"

bank_lines = Table(
    "bank_lines",
    metadata,
    # Every movement of a collection account the bank reported, once: (account, serial) is unique, and a
    # repeat with the same content is skipped as a duplicate. Credits carry where their money was booked.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id, nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("account", String(32), nullable=False),
    Column("serial", String(64), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("trade_date", Date, nullable=False),
    Column("payer_account", Text),
    Column("payer_name", Text),
    Column("memo", Text),
    Column("summary", Text),
    Column("content", Text, nullable=False),
    Column("matched_by", String(16), nullable=False),
    Column("unit_account", String(20)),
    # The suspense account its money went to (a credit) or came from (a reversal).
    Column("suspense", String(24)),
    Column("reverses", Id),
    Column("reversed_by", Id),
    Column("booked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('credit','reversal','other')", name="kind"),
    UniqueConstraint("account", "serial", name="uq_bank_lines_movement"),
    Index(None, "batch_id"),
    Index(None, "unit_account"),
)

fund_moves = Table(
    "fund_moves",
    metadata,
    # Money moving between the centre's accounts (bank, suspense, unidentified, exceptions): each row is one
    # double-entry transfer with its two sides as columns, so it balances by construction. Append-only.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(12), nullable=False),
    Column("line_id", Id),
    Column("batch_id", Id),
    Column("debit", String(24), nullable=False),
    Column("credit", String(24), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("actor", String(64)),
    Column("reason", Text),
    Column("booked_on", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('credit','reversal','assign','transfer','exception')", name="kind"),
    CheckConstraint("amount_fen > 0 AND debit <> credit", name="amount"),
    Index(None, "debit"),
    Index(None, "credit"),
)

list_rows = Table(
    "list_rows",
    metadata,
    # A valid list's deposits, kept from the day it is decided until its money comes (and after, for a
    # list that waits again when a credit that paid it is reversed).
    Column("batch_id", Id, primary_key=True),
    Column("member_account", String(20), primary_key=True),
    Column("employer_fen", BigInteger, nullable=False),
    Column("employee_fen", BigInteger, nullable=False),
)

fundings = Table(
    "fundings",
    metadata,
    # The credits whose money a posted list took (its result's `funded_by`).
    Column("batch_id", Id, primary_key=True),
    Column("line_id", Id, primary_key=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    # Who did what, from the command line (the OS user) or the console (its user), and why.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", String(64), nullable=False),
    Column("via", String(8), nullable=False),
    Column("action", String(24), nullable=False),
    Column("target", String(64)),
    Column("reason", Text),
    Column("detail", Text),
    Index(None, "at"),
)

users = Table(
    "users",
    metadata,
    # Console users (SPEC §10), made and disabled on the command line only. The password is an
    # argon2id hash (its parameters and salt inside it); a disabled user keeps its row, for the audit log.
    Column("name", String(USER_NAME_CHARS), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("disabled_at", DateTime(timezone=True)),
    CheckConstraint(f"role IN ({_listed(Role)})", name="role"),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    # Console sessions kept on the server (SPEC §10): the cookie carries a random token and only its
    # SHA-256 is stored, so a copy of the database opens no session. Logout and disabling delete the row.
    Column("token_sha256", String(64), primary_key=True),
    Column("user_name", String(USER_NAME_CHARS), ForeignKey("users.name"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index(None, "user_name"),
)

cycles = Table(
    "cycles",
    metadata,
    # Each cycle's time and outcome, for the console's 需要处理: when the job last ran, and the SFTP
    # error that stopped it, if one did.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("host", String(120)),
    Column("files", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("error", Text),
)

control_accounts = Table(
    "control_accounts",
    metadata,
    Column("code", String(24), primary_key=True),
    Column("balance_fen", BigInteger, nullable=False, server_default="0"),
)
CONTROL = "CONTROL"
"""The centre's deposits control account: the other side of postings made in immediate mode."""
UNIDENTIFIED = "UNIDENTIFIED"
EXCEPTIONS = "EXCEPTIONS"


SUSPENSE_PREFIX, BANK_PREFIX = "S", "B"
"""Centre account codes start with a letter (member accounts are digits): `S{unit}` and `B{account}`."""


def starts_with(column: str, prefix: str) -> str:
    """SQL for `column LIKE 'P%'` that an index on the column can answer, for a one-letter code prefix.

    LIKE alone scans: SQLite's LIKE ignores case and so cannot use a binary index, and
    PostgreSQL's needs a text_pattern_ops one. The range [P, next letter) reads only the
    codes; the LIKE kept beside it makes the result exact under any collation.
    """
    assert len(prefix) == 1 and prefix.isupper(), prefix  # our own constants, never data
    return f"({column} >= '{prefix}' AND {column} < '{chr(ord(prefix) + 1)}' AND {column} LIKE '{prefix}%')"


def suspense_of(unit_account: str) -> str:
    """The ledger code of an employer's suspense account (暂收/未分摊)."""
    return f"{SUSPENSE_PREFIX}{unit_account}"


def bank_of(account: str) -> str:
    """The ledger code of a collection account's money at the bank."""
    return f"{BANK_PREFIX}{account}"


job_runs = Table(
    "job_runs",
    metadata,
    # Jobs that must run once per occasion (a day's report, a month's): done is done, whoever did it.
    Column("job", String(40), primary_key=True),
    Column("occasion", String(40), primary_key=True),
    Column("host", String(120)),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
)

instance = Table(
    "instance",
    metadata,
    # One row, made by the first migration that created it: which database this is. A cycle reads it
    # when it starts and again before it publishes, so a database replaced mid-cycle is never reported on.
    Column("id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

inbox_problems = Table(
    "inbox_problems",
    metadata,
    # Something in an inbox that can never be processed (a misnamed marker, a folder, a symlink, an
    # unreadable marker, a missing inbox), shown to operators until it is gone.
    Column("unit_account", String(40), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("message", Text, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_seen", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("told_employer", Boolean, nullable=False, server_default="0"),
)


def on_postgresql() -> None:
    """Give the tables their PostgreSQL-only options: the members' fill factor, the partial indexes.

    The migrations write them into the schema; the tables carry them for Alembic's comparisons.
    Declared in the constructors, they would load SQLAlchemy's PostgreSQL dialect (17 ms) into
    every command, on SQLite too (issue 15: commands start in under 0.3 s).
    """
    members.dialect_kwargs["postgresql_with"] = {"fillfactor": 50}
    for index in deposits.indexes:
        where = index.dialect_kwargs.get("sqlite_where")
        if where is not None:
            index.dialect_kwargs["postgresql_where"] = where
