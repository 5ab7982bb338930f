"""Funds: bank movements, money moves between ledger accounts, what funded each list, the audit log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NEW_STATUSES = (
    "'RECEIVED','AWAITING_FUNDS','POSTED','APPLIED','REJECTED','DUPLICATE','FAILED','REVERSED',"
    "'BOOKED','EXPIRED','SUPERSEDED'"
)
_NOW = sa.text("(CURRENT_TIMESTAMP)")


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.alter_column("status", type_=sa.String(length=16), existing_nullable=False)
        batch_op.drop_constraint(op.f("ck_batches_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_batches_status"), f"status IN ({_NEW_STATUSES})")
        batch_op.add_column(sa.Column("awaiting_since", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("roster_version", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_batches_status"), "batches", ["status", "unit_account", "month"])
    with op.batch_alter_table("batch_events", schema=None) as batch_op:
        batch_op.alter_column("status", type_=sa.String(length=16), existing_nullable=False)
    with op.batch_alter_table("employers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payer_account", sa.String(length=40), nullable=True))
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("booked_on", sa.Date(), nullable=True))
    op.create_table(
        "bank_lines",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("batch_id", Id, nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("payer_account", sa.Text(), nullable=True),
        sa.Column("payer_name", sa.Text(), nullable=True),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("matched_by", sa.String(length=16), nullable=False),
        sa.Column("unit_account", sa.String(length=20), nullable=True),
        sa.Column("suspense", sa.String(length=24), nullable=True),
        sa.Column("reverses", Id, nullable=True),
        sa.Column("reversed_by", Id, nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.CheckConstraint("kind IN ('credit','reversal','other')", name=op.f("ck_bank_lines_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_lines")),
        sa.UniqueConstraint("account", "serial", name="uq_bank_lines_movement"),
    )
    op.create_index(op.f("ix_bank_lines_batch_id"), "bank_lines", ["batch_id"])
    op.create_index(op.f("ix_bank_lines_unit_account"), "bank_lines", ["unit_account"])
    op.create_table(
        "fund_moves",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("line_id", Id, nullable=True),
        sa.Column("batch_id", Id, nullable=True),
        sa.Column("debit", sa.String(length=24), nullable=False),
        sa.Column("credit", sa.String(length=24), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.CheckConstraint(
            "kind IN ('credit','reversal','assign','transfer','exception')", name=op.f("ck_fund_moves_kind")
        ),
        sa.CheckConstraint("amount_fen > 0 AND debit <> credit", name=op.f("ck_fund_moves_amount")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_moves")),
    )
    op.create_index(op.f("ix_fund_moves_debit"), "fund_moves", ["debit"])
    op.create_index(op.f("ix_fund_moves_credit"), "fund_moves", ["credit"])
    op.create_table(
        "list_rows",
        sa.Column("batch_id", Id, nullable=False),
        sa.Column("member_account", sa.String(length=20), nullable=False),
        sa.Column("employer_fen", sa.BigInteger(), nullable=False),
        sa.Column("employee_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "member_account", name=op.f("pk_list_rows")),
    )
    op.create_table(
        "fundings",
        sa.Column("batch_id", Id, nullable=False),
        sa.Column("line_id", Id, nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "line_id", name=op.f("pk_fundings")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("fundings")
    op.drop_table("list_rows")
    op.drop_table("fund_moves")
    op.drop_table("bank_lines")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_column("booked_on")
    with op.batch_alter_table("employers", schema=None) as batch_op:
        batch_op.drop_column("payer_account")
    op.drop_index(op.f("ix_batches_status"), table_name="batches")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("roster_version")
        batch_op.drop_column("awaiting_since")
