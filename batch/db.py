"""The database: table definitions, engine creation and schema migration.

Tables are SQLAlchemy Core (bulk statements, no per-row ORM objects). The
schema itself is created only by the Alembic migrations in
`batch/migrations`, which run unchanged on SQLite and PostgreSQL; the tables
here must match them (a test compares the two).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Engine,
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
    create_engine,
    event,
    func,
    text,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

Id = BigInteger().with_variant(Integer, "sqlite")
"""64-bit ids; SQLite needs INTEGER for its rowid alias."""

employers = Table(
    "employers",
    metadata,
    Column("unit_account", String(20), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("status", String(2), nullable=False),
    Column("employer_rate_bp", Integer, nullable=False),
    Column("employee_rate_bp", Integer, nullable=False),
    Column("wage_tier", SmallInteger, nullable=False),
    Column("rounding", String(16)),
    Column("paid_through", Integer),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('01','02','03','04','05')", name="status"),
    CheckConstraint("employer_rate_bp BETWEEN 0 AND 10000 AND employee_rate_bp BETWEEN 0 AND 10000", name="rates"),
)

members = Table(
    "members",
    metadata,
    Column("member_account", String(20), primary_key=True),
    Column("unit_account", String(20), ForeignKey("employers.unit_account"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("id_type", String(2), nullable=False),
    Column("id_number", String(40), nullable=False),
    Column("base_fen", BigInteger, nullable=False),
    Column("status", String(8), nullable=False),
    Column("paid_through", Integer),
    Column("balance_fen", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('normal','sealed','closed')", name="status"),
    CheckConstraint("base_fen >= 0", name="base"),
    Index(None, "unit_account"),
    # Every posting rewrites the balance of each of the employer's members, usually every
    # row of a page: with half of each page free, PostgreSQL puts the new versions beside the
    # old (HOT) and touches no index. At 80 a posting's member update took 2.2 times as long.
    postgresql_with={"fillfactor": 50},
)

STEPS = ("claimed", "decided", "published", "archived")
"""How far a batch has come: its outcome is decided (and, if POSTED, posted) in one
transaction; then its results are published; then its source is archived."""

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
    Column("status", String(12), nullable=False),
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
    CheckConstraint("status IN ('RECEIVED','POSTED','REJECTED','DUPLICATE','FAILED','REVERSED')", name="status"),
    CheckConstraint(f"step IN ({','.join(repr(step) for step in STEPS)})", name="step"),
    # One batch per arrival: two workers that see the same upload cannot both take it.
    UniqueConstraint("unit_account", "file_name", "file_size", "file_mtime", name="uq_batches_arrival"),
    Index(None, "sha256"),
)

batch_events = Table(
    "batch_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id, ForeignKey("batches.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("status", String(12), nullable=False),
    Column("step", String(12), nullable=False),
    Column("message", Text),
    Index(None, "batch_id"),
)

batch_results = Table(
    "batch_results",
    metadata,
    Column("batch_id", Id, ForeignKey("batches.id"), primary_key=True),
    Column("name", String(255), primary_key=True),
    # gzip, written with the outcome: a crash before upload republishes the very same files.
    Column("content", LargeBinary, nullable=False),
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
    CheckConstraint("employer_fen >= 0 AND employee_fen >= 0", name="amounts"),
    Index(None, "batch_id", "member_account"),
    # Exactly once: at most one standing deposit per member and month, whoever posts it.
    Index(
        "uq_deposits_member_month",
        "member_account",
        "month",
        unique=True,
        sqlite_where=text("NOT reversed"),
        postgresql_where=text("NOT reversed"),
    ),
)

entries = Table(
    "entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id, nullable=False),  # no foreign key: see deposits
    Column("kind", String(8), nullable=False),
    # A member account, or CONTROL for the centre's deposits control account.
    Column("account", String(24), nullable=False),
    Column("part", String(8), nullable=False),
    Column("month", Integer, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('deposit','reversal')", name="kind"),
    CheckConstraint("part IN ('employer','employee')", name="part"),
    Index(None, "account"),
    Index(None, "batch_id"),
)

control_accounts = Table(
    "control_accounts",
    metadata,
    Column("code", String(24), primary_key=True),
    Column("balance_fen", BigInteger, nullable=False, server_default="0"),
)
CONTROL = "CONTROL"

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


def make_engine(url: str) -> Engine:
    """An engine with the settings each backend needs for safe concurrent use."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        if engine.url.database and engine.url.database != ":memory:":
            _private_file(Path(engine.url.database))
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _private_file(path: Path) -> None:
    """The database holds ID numbers and balances: created owner-only, never left world-readable.

    SQLite gives its -wal and -shm files the database file's permissions.
    """
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # an empty file is an empty database
    elif path.exists() and path.stat().st_mode & 0o007:
        path.chmod(path.stat().st_mode & ~0o007)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    """Foreign keys on; WAL so readers never block the writer; wait for locks instead of failing.

    A page cache of up to 256 MB (the default is 2 MB): a million-member posting
    touches every page of the members table and its indexes, and with the small
    cache each touch is a read from the OS, which made posting grow faster than
    the file. Memory is only taken as pages are read.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA cache_size=-262144")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


MIGRATIONS = Path(__file__).with_name("migrations")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the schema (`hpf db upgrade`)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
