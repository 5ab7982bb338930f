"""The roster of a month: a member's state in force for month M, from its record and its events (SPEC §3.2).

A member's record holds its state now; each change is an event with its
effective month and the values it replaced. The state for M is the old values
of the member's earliest event after M, or the record when there is none. A
member opened after M (an event with no old values) did not exist for M.
Pure frames in, frames out: the database edge reads the record and the few
events after M, and both the remittance rules and the change rules use this.
"""

from __future__ import annotations

import polars as pl

from schemas.master import EVENT

STATE_COLUMNS = ("unit_account", "status", "base_fen")
"""What an event changes; the rest of a record (name, ID) is the same for every month."""


def state_at(wanted: pl.DataFrame, records: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """`wanted` (a `key`, a `member_account` and a month `at` per line) with the account's state for that month.

    Adds the record's columns (`records` holds at least `member_account` and
    `STATE_COLUMNS`), with `STATE_COLUMNS` as they stood for `at`, and
    `changed_after`: the month of the account's latest event after `at`, or
    null. An account unknown, or not yet opened for `at`, has a null status.
    `events` needs only the events after the smallest `at` (`schemas.master.EVENT`).
    """
    later = (
        wanted.lazy()
        .select("key", "member_account", "at")
        .join(events.lazy().select(EVENT.names()), on="member_account")
        .filter(pl.col("month") > pl.col("at"))
        .sort("id")
        .group_by("key")
        .agg(
            pl.col("old_unit").first(),
            pl.col("old_status").first(),
            pl.col("old_base_fen").first(),
            pl.col("month").max().alias("changed_after"),
        )
    )
    joined = (
        wanted.lazy()
        .join(records.lazy(), on="member_account", how="left", maintain_order="left")
        .join(later, on="key", how="left", maintain_order="left")
    )
    changed = pl.col("changed_after").is_not_null()
    olds = {"unit_account": "old_unit", "status": "old_status", "base_fen": "old_base_fen"}
    return (
        joined.with_columns(
            pl.when(changed).then(pl.col(old)).otherwise(pl.col(now)).alias(now) for now, old in olds.items()
        )
        .drop(olds.values())
        .collect()
    )


def roster_at(records: pl.DataFrame, events: pl.DataFrame, month: int) -> pl.DataFrame:
    """The records as they stood for `month`: the ones that existed then, with that month's unit, status and base."""
    wanted = records.select(
        pl.col("member_account").alias("key"), "member_account", pl.lit(month, pl.Int64).alias("at")
    )
    state = state_at(wanted, records, events)
    return state.filter(pl.col("status").is_not_null()).select(records.columns)
