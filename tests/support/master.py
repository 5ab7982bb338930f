"""A small master data set as CSV text, and a store loaded with it."""

from __future__ import annotations

from datetime import date

import polars as pl

from batch.master_files import parse_employers, parse_members
from db.store import ImportCounts, Store

EMPLOYERS = (
    "unit_account,name,credit_code,status,employer_rate,employee_rate,wage_tier,rounding,paid_through\n"
    "0101000123,成都示例科技有限公司,91350100M000100Y43,01,12%,12%,1,,202610\n"
    "0101000456,简阳示例农业合作社,91350100M000200Y4T,02,5%,5%,2,yuan_half_up,\n"
)
MEMBERS = (
    "member_account,unit_account,name,id_type,id_number,base,status,paid_through\n"
    "100001,0101000123,张三,01,11010519491231002x,5000.00,normal,202610\n"
    '100002,0101000123,李四,01,440524188001010014,"32,969",sealed,202610\n'
    "200001,0101000456,王五,03,E12345678,2200,normal,\n"
)


def load(store: Store) -> None:
    employers = parse_employers(EMPLOYERS.encode(), "employers.csv")
    members = parse_members(MEMBERS.encode(), "members.csv", {"0101000123", "0101000456"}, date(2026, 11, 22))
    assert isinstance(employers, pl.DataFrame) and isinstance(members, pl.DataFrame)
    counts = store.import_master(employers, members)
    assert isinstance(counts, ImportCounts), counts
    assert counts.employers_new + counts.employers_updated == 2
