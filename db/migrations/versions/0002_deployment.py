"""What a real deployment needed: republishing after a reversal, the database's identity, inbox problems.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("republish", sa.Boolean(), server_default="0", nullable=False))
    op.create_table(
        "instance",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance")),
    )
    instance = sa.table("instance", sa.column("id", sa.String))
    op.bulk_insert(instance, [{"id": str(uuid.uuid4())}])
    op.create_table(
        "inbox_problems",
        sa.Column("unit_account", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "first_seen", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "last_seen", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("told_employer", sa.Boolean(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("unit_account", "name", name=op.f("pk_inbox_problems")),
    )


def downgrade() -> None:
    op.drop_table("inbox_problems")
    op.drop_table("instance")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("republish")
