"""A deposit is itself the member's side of its transfer: its booking days move onto it, its member entries go.

Each deposit takes the day of its member entries (the k-th deposit of a member in a
batch the k-th deposit entry and the k-th reversal entry: a batch reversed and posted
again has one set per posting), then those entries are deleted. What remains in
`entries` is each batch's counter side. The downgrade writes the member entries back
from the deposits.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_NUMBERED_DEPOSITS = (
    "SELECT id, batch_id, member_account, "
    "ROW_NUMBER() OVER (PARTITION BY batch_id, member_account ORDER BY id) AS k FROM deposits"
)


def _numbered_entries(kind: str) -> str:
    return (
        "SELECT e.batch_id, e.account, coalesce(e.booked_on, date(e.created_at)) AS day, "
        "ROW_NUMBER() OVER (PARTITION BY e.batch_id, e.account ORDER BY e.id) AS k FROM entries e "
        f"WHERE e.kind = '{kind}' AND e.part = 'employer' AND EXISTS (SELECT 1 FROM deposits d "
        "WHERE d.batch_id = e.batch_id AND d.member_account = e.account)"
    )


def upgrade() -> None:
    op.add_column("deposits", sa.Column("booked_on", sa.Date(), nullable=True))
    op.add_column("deposits", sa.Column("reversed_on", sa.Date(), nullable=True))
    op.create_index(
        "ix_deposits_reversed", "deposits", ["member_account"], unique=False,
        sqlite_where=sa.text("reversed"), postgresql_where=sa.text("reversed"),
    )  # fmt: skip
    op.execute("CREATE TEMPORARY TABLE deposit_days (id BIGINT PRIMARY KEY, booked_on DATE, reversed_on DATE)")
    op.execute(
        "INSERT INTO deposit_days (id, booked_on, reversed_on) "
        f"SELECT d.id, dep.day, rev.day FROM ({_NUMBERED_DEPOSITS}) d "
        f"LEFT JOIN ({_numbered_entries('deposit')}) dep "
        "ON dep.batch_id = d.batch_id AND dep.account = d.member_account AND dep.k = d.k "
        f"LEFT JOIN ({_numbered_entries('reversal')}) rev "
        "ON rev.batch_id = d.batch_id AND rev.account = d.member_account AND rev.k = d.k"
    )
    op.execute(
        "UPDATE deposits SET booked_on = x.booked_on, reversed_on = x.reversed_on "
        "FROM deposit_days x WHERE x.id = deposits.id"
    )
    op.execute("DROP TABLE deposit_days")
    op.execute(
        "DELETE FROM entries WHERE EXISTS (SELECT 1 FROM deposits d "
        "WHERE d.batch_id = entries.batch_id AND d.member_account = entries.account)"
    )


def downgrade() -> None:
    for kind, sign, day, which in (
        ("deposit", "", "booked_on", "1 = 1"),
        ("reversal", "-", "reversed_on", "reversed"),
    ):
        for part in ("employer", "employee"):
            op.execute(
                "INSERT INTO entries (batch_id, kind, account, part, month, amount_fen, booked_on) "
                f"SELECT batch_id, '{kind}', member_account, '{part}', month, {sign}{part}_fen, {day} "
                f"FROM deposits WHERE {which} ORDER BY id"
            )
    op.drop_index("ix_deposits_reversed", table_name="deposits")
    with op.batch_alter_table("deposits", schema=None) as batch_op:
        batch_op.drop_column("reversed_on")
        batch_op.drop_column("booked_on")
