"""The initial schema: master data, batches and their history and results, deposits and the ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("unit_account", sa.String(length=20), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("file_mtime", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("step", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("posted_rows", sa.Integer(), nullable=True),
        sa.Column("rejected_rows", sa.Integer(), nullable=True),
        sa.Column("total_fen", sa.BigInteger(), nullable=True),
        sa.Column("posted_fen", sa.BigInteger(), nullable=True),
        sa.Column("duplicate_of", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("prev_paid_through", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('RECEIVED','POSTED','REJECTED','DUPLICATE','FAILED','REVERSED')", name=op.f("ck_batches_status")
        ),
        sa.CheckConstraint("step IN ('claimed','decided','published','archived')", name=op.f("ck_batches_step")),
        sa.ForeignKeyConstraint(["duplicate_of"], ["batches.id"], name=op.f("fk_batches_duplicate_of_batches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.UniqueConstraint("unit_account", "file_name", "file_size", "file_mtime", name="uq_batches_arrival"),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batches_sha256"), ["sha256"], unique=False)

    op.create_table(
        "control_accounts",
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("balance_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_control_accounts")),
    )
    op.create_table(
        "employers",
        sa.Column("unit_account", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("status", sa.String(length=2), nullable=False),
        sa.Column("employer_rate_bp", sa.Integer(), nullable=False),
        sa.Column("employee_rate_bp", sa.Integer(), nullable=False),
        sa.Column("wage_tier", sa.SmallInteger(), nullable=False),
        sa.Column("rounding", sa.String(length=16), nullable=True),
        sa.Column("paid_through", sa.Integer(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.CheckConstraint("status IN ('01','02','03','04','05')", name=op.f("ck_employers_status")),
        sa.CheckConstraint(
            "employer_rate_bp BETWEEN 0 AND 10000 AND employee_rate_bp BETWEEN 0 AND 10000",
            name=op.f("ck_employers_rates"),
        ),
        sa.PrimaryKeyConstraint("unit_account", name=op.f("pk_employers")),
    )
    op.create_table(
        "batch_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("step", sa.String(length=12), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_batch_events_batch_id_batches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_events")),
    )
    with op.batch_alter_table("batch_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_events_batch_id"), ["batch_id"], unique=False)

    op.create_table(
        "batch_results",
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_batch_results_batch_id_batches")),
        sa.PrimaryKeyConstraint("batch_id", "name", name=op.f("pk_batch_results")),
    )
    op.create_table(
        "entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("account", sa.String(length=24), nullable=False),
        sa.Column("part", sa.String(length=8), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.CheckConstraint("kind IN ('deposit','reversal')", name=op.f("ck_entries_kind")),
        sa.CheckConstraint("part IN ('employer','employee')", name=op.f("ck_entries_part")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entries_account"), ["account"], unique=False)
        batch_op.create_index(batch_op.f("ix_entries_batch_id"), ["batch_id"], unique=False)

    op.create_table(
        "members",
        sa.Column("member_account", sa.String(length=20), nullable=False),
        sa.Column("unit_account", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("id_type", sa.String(length=2), nullable=False),
        sa.Column("id_number", sa.String(length=40), nullable=False),
        sa.Column("base_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("paid_through", sa.Integer(), nullable=True),
        sa.Column("balance_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.CheckConstraint("status IN ('normal','sealed','closed')", name=op.f("ck_members_status")),
        sa.CheckConstraint("base_fen >= 0", name=op.f("ck_members_base")),
        sa.ForeignKeyConstraint(
            ["unit_account"], ["employers.unit_account"], name=op.f("fk_members_unit_account_employers")
        ),
        sa.PrimaryKeyConstraint("member_account", name=op.f("pk_members")),
        postgresql_with={"fillfactor": 50},
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_members_unit_account"), ["unit_account"], unique=False)

    op.create_table(
        "deposits",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_account", sa.String(length=20), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("employer_fen", sa.BigInteger(), nullable=False),
        sa.Column("employee_fen", sa.BigInteger(), nullable=False),
        sa.Column("prev_paid_through", sa.Integer(), nullable=True),
        sa.Column("reversed", sa.Boolean(), server_default="0", nullable=False),
        sa.CheckConstraint("employer_fen >= 0 AND employee_fen >= 0", name=op.f("ck_deposits_amounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposits")),
    )
    with op.batch_alter_table("deposits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deposits_batch_id"), ["batch_id", "member_account"], unique=False)
        batch_op.create_index(
            "uq_deposits_member_month",
            ["member_account", "month"],
            unique=True,
            sqlite_where=sa.text("NOT reversed"),
            postgresql_where=sa.text("NOT reversed"),
        )

    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("occasion", sa.String(length=40), nullable=False),
        sa.Column("host", sa.String(length=120), nullable=True),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job", "occasion", name=op.f("pk_job_runs")),
    )
    control = sa.table("control_accounts", sa.column("code", sa.String), sa.column("balance_fen", sa.BigInteger))
    op.bulk_insert(control, [{"code": "CONTROL", "balance_fen": 0}])


def downgrade() -> None:
    op.drop_table("job_runs")
    with op.batch_alter_table("deposits", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_deposits_member_month", sqlite_where=sa.text("NOT reversed"), postgresql_where=sa.text("NOT reversed")
        )
        batch_op.drop_index(batch_op.f("ix_deposits_batch_id"))

    op.drop_table("deposits")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_unit_account"))

    op.drop_table("members")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entries_batch_id"))
        batch_op.drop_index(batch_op.f("ix_entries_account"))

    op.drop_table("entries")
    op.drop_table("batch_results")
    with op.batch_alter_table("batch_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_events_batch_id"))

    op.drop_table("batch_events")
    op.drop_table("employers")
    op.drop_table("control_accounts")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches_sha256"))

    op.drop_table("batches")
