"""Master data (employers, members) and the batch register.

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

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "employers",
        sa.Column("unit_account", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("status", sa.String(2), nullable=False),
        sa.Column("employer_rate_bp", sa.Integer, nullable=False),
        sa.Column("employee_rate_bp", sa.Integer, nullable=False),
        sa.Column("wage_tier", sa.SmallInteger, nullable=False),
        sa.Column("rounding", sa.String(16)),
        sa.Column("paid_through", sa.Integer),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("unit_account", name=op.f("pk_employers")),
        sa.CheckConstraint("status IN ('01','02','03','04','05')", name=op.f("ck_employers_status")),
        sa.CheckConstraint(
            "employer_rate_bp BETWEEN 0 AND 10000 AND employee_rate_bp BETWEEN 0 AND 10000",
            name=op.f("ck_employers_rates"),
        ),
    )
    op.create_table(
        "members",
        sa.Column("member_account", sa.String(20), nullable=False),
        sa.Column("unit_account", sa.String(20), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("id_type", sa.String(2), nullable=False),
        sa.Column("id_number", sa.String(40), nullable=False),
        sa.Column("base_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("paid_through", sa.Integer),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("member_account", name=op.f("pk_members")),
        sa.ForeignKeyConstraint(
            ["unit_account"], ["employers.unit_account"], name=op.f("fk_members_unit_account_employers")
        ),
        sa.CheckConstraint("status IN ('normal','sealed','closed')", name=op.f("ck_members_status")),
        sa.CheckConstraint("base_fen >= 0", name=op.f("ck_members_base")),
    )
    op.create_index(op.f("ix_members_unit_account"), "members", ["unit_account"])
    op.create_table(
        "batches",
        sa.Column("id", Id, nullable=False, autoincrement=True),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("unit_account", sa.String(20)),
        sa.Column("month", sa.Integer),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.CheckConstraint(
            "status IN ('RECEIVED','POSTED','REJECTED','DUPLICATE','FAILED','REVERSED')",
            name=op.f("ck_batches_status"),
        ),
    )
    op.create_index(op.f("ix_batches_sha256"), "batches", ["sha256"])


def downgrade() -> None:
    op.drop_table("batches")
    op.drop_index("ix_members_unit_account", table_name="members")
    op.drop_table("members")
    op.drop_table("employers")
