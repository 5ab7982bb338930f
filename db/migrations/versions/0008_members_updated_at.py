"""Members indexed by their last change, so the console's reconciliation stamp reads it without a scan.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_members_updated_at"), "members", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_members_updated_at"), table_name="members")
