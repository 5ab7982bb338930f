"""Results due: restatements written with a posting, their files drawn when read.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "results_due",
        sa.Column("batch_id", Id, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("posted_rows", sa.Integer(), nullable=False),
        sa.Column("posted_fen", sa.BigInteger(), nullable=False),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.Column("detail_rows", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_results_due_batch_id_batches")),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_results_due")),
    )


def downgrade() -> None:
    op.drop_table("results_due")
