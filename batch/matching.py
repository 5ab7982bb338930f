"""Whose money is it: the matching rules of SPEC §9, set-based over a whole arrival file.

Each rule is a join of the credits' texts against the candidate employers
(status 01, 02, 03); the first rule that finds anyone decides, and a rule that
finds two or more employers leaves the credit unidentified (三无), for a person
to assign. Texts are NFKC-normalised first, so full-width digits and spaces
count as ASCII. Reversals find the credit they undo by its serial number in
their texts, else by the opposite amount from the same counterparty within ten
days (DOMAIN §5.1: HG's 失败退回).
"""

from __future__ import annotations

import polars as pl

from batch.reference import MONTH_DIGITS, valid_column
from schemas.statuses import FILING_STATUSES

REFERENCE, UNIT_ACCOUNT, NAME, PAYER_ACCOUNT, UNIDENTIFIED = (
    "reference", "unit_account", "name", "payer_account", "unidentified",
)  # fmt: skip
REVERSAL_DAYS = 10

_DIGITS = r"[0-9]+"
_SEPARATED = r"[0-9]+(?:[ \-_/]+[0-9]+)+"
_TOKEN = r"[0-9A-Za-z]+"

MATCH_SCHEMA = {"line_no": pl.Int64, "unit_account": pl.String, "matched_by": pl.String}


def normalised(column: str) -> pl.Expr:
    """NFKC: full-width digits, letters and spaces become ASCII (ＡＢ１２３　→ AB123 )."""
    return pl.col(column).fill_null("").str.normalize("NFKC")


def match_credits(credits: pl.DataFrame, employers: pl.DataFrame) -> pl.DataFrame:
    """(line_no, unit_account, matched_by) for every credit; unit_account null when unidentified.

    `credits`: line_no, memo, summary, payer_name, payer_account.
    `employers`: unit_account, name, status, payer_account (every employer: a payer
    account held by two counts as nobody's, even if one of them is closed).
    """
    texts = credits.select(
        "line_no",
        normalised("memo").alias("memo"),
        normalised("summary").alias("summary"),
        normalised("payer_name").str.strip_chars().alias("payer_name"),
        normalised("payer_account").str.strip_chars().alias("payer_account"),
    )
    candidates = employers.filter(pl.col("status").is_in(list(FILING_STATUSES))).select(
        "unit_account", pl.col("name").str.normalize("NFKC").str.strip_chars().alias("name")
    )
    found = [
        _by_reference(texts, "summary", candidates).with_columns(step=pl.lit(0)),
        _by_reference(texts, "memo", candidates).with_columns(step=pl.lit(1)),
        _by_unit_account(texts, "memo", candidates).with_columns(step=pl.lit(2)),
        _by_unit_account(texts, "summary", candidates).with_columns(step=pl.lit(3)),
        _by_name(texts, "memo", candidates).with_columns(step=pl.lit(4)),
        _by_name(texts, "summary", candidates).with_columns(step=pl.lit(5)),
        _by_name(texts, "payer_name", candidates).with_columns(step=pl.lit(6)),
        _by_payer_account(texts, employers, candidates).with_columns(step=pl.lit(7)),
    ]
    hits = pl.concat(found, how="vertical_relaxed").unique(["line_no", "step", "unit_account"])
    decided = (
        hits.filter(pl.col("step") == pl.col("step").min().over("line_no"))
        .group_by("line_no")
        .agg(pl.col("unit_account").unique().alias("units"), pl.col("matched_by").first())
        .select(
            "line_no",
            pl.when(pl.col("units").list.len() == 1).then(pl.col("units").list.first()).alias("unit_account"),
            pl.when(pl.col("units").list.len() == 1)
            .then("matched_by")
            .otherwise(pl.lit(UNIDENTIFIED))
            .alias("matched_by"),
        )
    )
    return (
        texts.select("line_no")
        .join(decided, on="line_no", how="left")
        .with_columns(pl.col("matched_by").fill_null(UNIDENTIFIED))
        .cast(MATCH_SCHEMA)  # type: ignore[arg-type]
    )


def _hits(frame: pl.DataFrame, how: str) -> pl.DataFrame:
    return frame.select("line_no", "unit_account", pl.lit(how).alias("matched_by"))


def _by_reference(texts: pl.DataFrame, column: str, candidates: pl.DataFrame) -> pl.DataFrame:
    """Digit runs (and runs joined by separators) that are references with a valid check digit."""
    runs = (
        texts.select(
            "line_no",
            pl.concat_list(
                pl.col(column).str.extract_all(_DIGITS),
                pl.col(column).str.extract_all(_SEPARATED).list.eval(pl.element().str.replace_all(r"[ \-_/]", "")),
            ).alias("run"),
        )
        .explode("run")
        .filter(pl.col("run").str.len_chars() >= MONTH_DIGITS + 2)
        .unique()
    )
    if runs.height == 0:
        return _hits(runs.with_columns(unit_account=pl.lit(None, pl.String)), REFERENCE)
    runs = runs.filter(valid_column(runs["run"]))
    body = pl.col("run").str.slice(0, pl.col("run").str.len_chars() - 1)
    month = body.str.slice(body.str.len_chars() - MONTH_DIGITS, MONTH_DIGITS)
    refs = runs.with_columns(
        body.str.slice(0, body.str.len_chars() - MONTH_DIGITS).alias("unit_account"), month.alias("month")
    ).filter(pl.col("month").str.contains(r"^[0-9]{4}(0[1-9]|1[0-2])$"))
    return _hits(refs.join(candidates, on="unit_account", how="inner"), REFERENCE)


def _by_unit_account(texts: pl.DataFrame, column: str, candidates: pl.DataFrame) -> pl.DataFrame:
    runs = texts.select("line_no", pl.col(column).str.extract_all(_DIGITS).alias("unit_account")).explode(
        "unit_account"
    )
    return _hits(runs.join(candidates, on="unit_account", how="inner"), UNIT_ACCOUNT)


def _by_name(texts: pl.DataFrame, column: str, candidates: pl.DataFrame) -> pl.DataFrame:
    named = texts.select("line_no", pl.col(column).str.strip_chars().alias("name")).filter(pl.col("name") != "")
    return _hits(named.join(candidates, on="name", how="inner"), NAME)


def _by_payer_account(texts: pl.DataFrame, employers: pl.DataFrame, candidates: pl.DataFrame) -> pl.DataFrame:
    """A payer account registered to exactly one employer (among all), that employer a candidate."""
    registered = (
        employers.filter(pl.col("payer_account").is_not_null() & (pl.col("payer_account") != ""))
        .group_by("payer_account")
        .agg(pl.col("unit_account").first(), pl.len().alias("holders"))
        .filter(pl.col("holders") == 1)
        .join(candidates.select("unit_account"), on="unit_account", how="semi")
    )
    paying = texts.filter(pl.col("payer_account") != "").select("line_no", "payer_account")
    return _hits(paying.join(registered, on="payer_account", how="inner"), PAYER_ACCOUNT)


# ---------------------------------------------------------------- reversals


def reversal_tokens(reversals: pl.DataFrame) -> list[str]:
    """The words of the reversals' 备注 and 摘要 that could be a serial number (what to look up)."""
    words = reversals.select(
        pl.concat_list(normalised("memo").str.extract_all(_TOKEN), normalised("summary").str.extract_all(_TOKEN)).alias(
            "t"
        )
    ).explode("t")
    return words["t"].drop_nulls().unique().to_list()


def find_originals(reversals: pl.DataFrame, credits: pl.DataFrame) -> pl.DataFrame:
    """(line_no, credit_id) for each reversal whose original credit is found; each credit undone at most once.

    `reversals`: line_no, account, amount_fen (negative), payer_account, payer_name,
    memo, summary, trade_date. `credits`: credit_id, account, serial, amount_fen,
    payer_account, payer_name, trade_date, credit_line, not yet reversed; `credit_line`
    is the line of a credit in the reversals' own file (it counts only for a reversal
    on a later line), null for one booked from an earlier file.
    A serial named in the 备注 or 摘要 (as a whole word) wins; else the newest credit
    of the opposite amount from the same counterparty within ten days. Reversals
    take their originals in line order (they are few: a loop over them is cheap).
    """
    empty = pl.DataFrame(schema={"line_no": pl.Int64, "credit_id": pl.Int64})
    if reversals.height == 0 or credits.height == 0:
        return empty
    words = reversals.select(
        "line_no",
        "account",
        pl.concat_list(normalised("memo").str.extract_all(_TOKEN), normalised("summary").str.extract_all(_TOKEN)).alias(
            "serial"
        ),
    ).explode("serial")
    earlier = pl.col("credit_line").is_null() | (pl.col("credit_line") < pl.col("line_no"))
    named = (
        words.join(credits.select("credit_id", "account", "serial", "credit_line"), on=["account", "serial"])
        .filter(earlier)
        .select("line_no", "credit_id", pl.lit(0).alias("rank"), pl.lit(0).alias("age"))
    )
    same = reversals.select(
        "line_no", "account", (-pl.col("amount_fen")).alias("amount_fen"), "payer_account", "payer_name",
        pl.col("trade_date").alias("reversed_on"),
    ).join(
        credits.select("credit_id", "account", "amount_fen", "payer_account", "payer_name", "trade_date", "credit_line"),
        on=["account", "amount_fen", "payer_account", "payer_name"], how="inner", nulls_equal=True,
    )  # fmt: skip
    days = (pl.col("reversed_on") - pl.col("trade_date")).dt.total_days()
    by_amount = same.filter(days.is_between(0, REVERSAL_DAYS) & earlier).select(
        "line_no", "credit_id", pl.lit(1).alias("rank"), (-pl.col("credit_id")).alias("age")
    )
    ranked = pl.concat([named, by_amount], how="vertical_relaxed").sort("line_no", "rank", "age")
    # Each reversal takes its best original; a credit taken by an earlier reversal is not taken again.
    chosen: list[tuple[int, int]] = []
    taken: set[int] = set()
    for line_no, group in ranked.group_by("line_no", maintain_order=True):
        for credit_id in group["credit_id"]:
            if credit_id not in taken:
                taken.add(credit_id)
                chosen.append((int(line_no[0]), int(credit_id)))
                break
    return pl.DataFrame(chosen, schema=empty.schema, orient="row")
