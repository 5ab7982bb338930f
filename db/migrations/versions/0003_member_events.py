"""Member change lists: effective-dated member events, the account number sequence, roster versions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OLD_STATUSES = "'RECEIVED','POSTED','REJECTED','DUPLICATE','FAILED','REVERSED'"
_NEW_STATUSES = "'RECEIVED','POSTED','APPLIED','REJECTED','DUPLICATE','FAILED','REVERSED'"


def upgrade() -> None:
    with op.batch_alter_table("employers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("roster_version", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_batches_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_batches_status"), f"status IN ({_NEW_STATUSES})")
    op.create_index(op.f("ix_members_id_number"), "members", ["id_number"])
    op.create_table(
        "member_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("member_account", sa.String(length=20), nullable=False),
        sa.Column("batch_id", Id, nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=2), nullable=True),
        sa.Column("old_unit", sa.String(length=20), nullable=True),
        sa.Column("new_unit", sa.String(length=20), nullable=False),
        sa.Column("old_status", sa.String(length=8), nullable=True),
        sa.Column("new_status", sa.String(length=8), nullable=False),
        sa.Column("old_base_fen", sa.BigInteger(), nullable=True),
        sa.Column("new_base_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.CheckConstraint("change IN ('open','seal','unseal','base')", name=op.f("ck_member_events_change")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_events")),
    )
    op.create_index(op.f("ix_member_events_member_account"), "member_events", ["member_account", "month"])
    op.create_index(op.f("ix_member_events_month"), "member_events", ["month"])
    op.create_index(op.f("ix_member_events_batch_id"), "member_events", ["batch_id"])
    op.create_table(
        "account_numbers",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_account_numbers")),
    )
    numbers = sa.table("account_numbers", sa.column("name", sa.String), sa.column("last", sa.BigInteger))
    op.bulk_insert(numbers, [{"name": "member", "last": 0}])


def downgrade() -> None:
    op.drop_table("account_numbers")
    op.drop_index(op.f("ix_member_events_batch_id"), table_name="member_events")
    op.drop_index(op.f("ix_member_events_month"), table_name="member_events")
    op.drop_index(op.f("ix_member_events_member_account"), table_name="member_events")
    op.drop_table("member_events")
    op.drop_index(op.f("ix_members_id_number"), table_name="members")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_batches_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_batches_status"), f"status IN ({_OLD_STATUSES})")
    with op.batch_alter_table("employers", schema=None) as batch_op:
        batch_op.drop_column("roster_version")
