"""Generated master data and remittance files, from a fixed seed: for the benchmarks and the fault tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from schemas.ids import ric_check_char, uscc_check_char

SEED = 20261122
TODAY = "2026-11-22"
MONTH = 202611
NAMES = ["王建国", "李晓燕", "张伟", "刘洋", "陈静", "杨帆", "赵敏", "黄磊", "周婷", "吴强"]


def unit_account(i: int) -> str:
    return f"01{i + 1:08d}"


def master(units: int, per_unit: int, seed: int = SEED) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Valid employers and members: `units` employers of `per_unit` active members each, paid to 202610."""
    accounts = [unit_account(i) for i in range(units)]
    credit = [f"91510100MA{i:07d}" for i in range(units)]
    employers = pl.DataFrame(
        {
            "unit_account": accounts,
            "name": [f"成都测试{i}有限公司" for i in range(units)],
            "credit_code": [c + uscc_check_char(c) for c in credit],
            "status": "01",
            "employer_rate": "12%",
            "employee_rate": "12%",
            "wage_tier": "1",
            "rounding": "",
            "paid_through": "202610",
        }
    )
    n = units * per_unit
    i = pl.int_range(0, n, eager=True).shuffle(seed)  # the order of rows is not the order of accounts
    first17 = pl.select(
        pl.lit("51010")
        + (pl.lit(1) + (i % 8)).cast(pl.String)
        + (pl.lit(1960) + (i % 40)).cast(pl.String)
        + (pl.lit(1) + (i // 40 % 12)).cast(pl.String).str.zfill(2)
        + (pl.lit(1) + (i // 480 % 28)).cast(pl.String).str.zfill(2)
        + (i // 13440 % 1000).cast(pl.String).str.zfill(3)
    ).to_series()
    ids = [f + ric_check_char(f) for f in first17.to_list()]
    base_fen = 300_000 + (i * 7919 % 2_000_000)  # 3,000.00 … 22,999.99 yuan, inside the 202611 floor and ceiling
    members = pl.DataFrame(
        {
            "member_account": (i + 100_000_000_000).cast(pl.String),
            "unit_account": pl.Series(accounts)[i // per_unit],
            "name": pl.Series(NAMES)[i % len(NAMES)],
            "id_type": "01",
            "id_number": ids,
            "base_fen": base_fen,
            "status": "normal",
            "paid_through": "202610",
        }
    ).with_columns(base=_yuan(pl.col("base_fen")))
    return employers, members


def _yuan(fen: pl.Expr) -> pl.Expr:
    return (fen // 100).cast(pl.String) + "." + (fen % 100).cast(pl.String).str.zfill(2)


def _part_fen() -> pl.Expr:
    """One side's monthly amount: 12% of the base, 见角进元 (the default method: a whole jiao rounds up to the yuan)."""
    jiao = pl.col("base_fen") * 12 // 1000
    return (jiao + 9) // 10 * 100


def list_totals(members: pl.DataFrame) -> pl.DataFrame:
    """(unit_account, total_fen) of each employer's `remittance` file: what its payment must be."""
    return members.group_by("unit_account").agg((_part_fen() * 2).sum().alias("total_fen")).sort("unit_account")


def write_inboxes(root: Path, members: pl.DataFrame) -> None:
    """Each employer's `remittance` file and its (empty) marker in `root/<unit>/inbox/`."""
    for (unit,), part in members.sort("unit_account").group_by("unit_account", maintain_order=True):
        inbox = root / str(unit) / "inbox"
        inbox.mkdir(parents=True)
        name = f"{unit}_{MONTH}.csv"
        (inbox / name).write_bytes(remittance(part))
        (inbox / f"{name}.done").write_bytes(b"")


def remittance(members: pl.DataFrame) -> bytes:
    """The employer's file for MONTH: 12% each side, 见角进元 (the default method: a whole jiao rounds up to the yuan)."""
    amount = _part_fen()
    frame = members.select(
        pl.col("member_account").alias("个人账号"),
        pl.col("name").alias("姓名"),
        pl.col("id_type").alias("证件类型"),
        pl.col("id_number").alias("证件号码"),
        pl.col("base").alias("缴存基数"),
        pl.lit("12%").alias("单位缴存比例"),
        pl.lit("12%").alias("个人缴存比例"),
        _yuan(amount).alias("单位月缴存额"),
        _yuan(amount).alias("个人月缴存额"),
        _yuan(amount * 2).alias("月缴存额合计"),
        pl.lit(str(MONTH)).alias("汇缴年月"),
    )
    return b"\xef\xbb\xbf" + frame.write_csv().encode()


def base_adjustment(members: pl.DataFrame, raise_fen: int = 10_000) -> bytes:
    """The annual adjustment as one change list (SPEC §3.2): a 基数调整 row per member, each base up by `raise_fen`."""
    frame = members.select(
        pl.lit("基数调整").alias("变更类型"),
        pl.col("member_account").alias("个人账号"),
        pl.col("name").alias("姓名"),
        _yuan(pl.col("base_fen") + raise_fen).alias("缴存基数"),
    )
    return frame.write_csv().encode("utf-8")


def write_master(folder: Path, employers: pl.DataFrame, members: pl.DataFrame) -> list[str]:
    employers.write_csv(folder / "employers.csv")
    members.drop("base_fen").select(
        "member_account", "unit_account", "name", "id_type", "id_number", "base", "status", "paid_through"
    ).write_csv(folder / "members.csv")
    return ["--employers", str(folder / "employers.csv"), "--members", str(folder / "members.csv")]


# ------------------------------------------------------------------ running
