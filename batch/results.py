"""The result document returned to the employer (SPEC §6), built from a validation report."""

from __future__ import annotations

from typing import Any

from batch.validate import Report


def result_document(
    report: Report, *, batch_id: int | None, status: str, posted_rows: int = 0, posted_fen: int = 0
) -> dict[str, Any]:
    """`X.result.json` as a dict; `hpf validate --json` prints it with batch_id None."""
    return {
        "file": report.file_name,
        "sha256": report.sha256,
        "unit_account": report.unit_account,
        "month": str(report.month) if report.month is not None else None,
        "batch_id": batch_id,
        "status": status,
        "rows": report.rows.height,
        "posted_rows": posted_rows,
        "rejected_rows": report.rejected_rows,
        "total_fen": report.total_fen,
        "posted_fen": posted_fen,
        "errors": [p.as_dict() for p in report.problems()],
    }
