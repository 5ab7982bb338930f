"""The console (SPEC §10): server-side sessions, each cycle's time and SFTP error, members indexed with status.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOW = sa.text("(CURRENT_TIMESTAMP)")


def upgrade() -> None:
    # The reconciliation's active members per employer, read from the index alone.
    op.create_index("ix_members_unit_account_status", "members", ["unit_account", "status"], unique=False)
    op.drop_index("ix_members_unit_account", table_name="members")
    op.create_table(
        "web_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"], name=op.f("fk_web_sessions_user_name_users")),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_user_name"), "web_sessions", ["user_name"], unique=False)
    op.create_table(
        "cycles",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("host", sa.String(length=120), nullable=True),
        sa.Column("files", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycles")),
    )


def downgrade() -> None:
    op.create_index("ix_members_unit_account", "members", ["unit_account"], unique=False)
    op.drop_index("ix_members_unit_account_status", table_name="members")
    op.drop_table("cycles")
    op.drop_index(op.f("ix_web_sessions_user_name"), table_name="web_sessions")
    op.drop_table("web_sessions")
