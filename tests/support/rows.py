"""Two valid remittance rows (text cells as an employer writes them) for unit 0101000123, and their members' IDs."""

from __future__ import annotations

ID_ZHANG = "11010519491231002X"
ID_LI = "440524188001010014"

ZHANG = {
    "member_account": "1001",
    "name": "张三",
    "id_type": "01",
    "id_number": ID_ZHANG,
    "base": "5,000.00",
    "employer_rate": "12%",
    "employee_rate": "12",
    "employer_amount": "600.00",
    "employee_amount": "600",
    "total_amount": "1200",
    "contribution_month": "202611",
}
# 2330 × 12% = 279.60 -> 见角进元 -> 280
LI = {
    "member_account": "1002",
    "name": "李四",
    "id_type": "01",
    "id_number": ID_LI,
    "base": "2330",
    "employer_rate": "0.12",
    "employee_rate": "12%",
    "employer_amount": "280",
    "employee_amount": "280",
    "total_amount": "560",
    "contribution_month": "",
}
