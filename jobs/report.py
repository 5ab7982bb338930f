"""`hpf report reconcile`: the month's reconciliation written locally, then uploaded to `_finance/outbox`.

The files are written first (each under a temporary name, then renamed into
place), so the report exists locally even when the upload fails; SFTP errors
propagate for the CLI to report. The figures are read in one database snapshot,
so a cycle posting at the same moment cannot make the control totals disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from batch.reconcile import Reconciliation, file_names, reconciliation_csv, reconciliation_xlsx
from db.reconcile import reconcile, snapshot
from db.store import Store
from jobs.files import LocalFileError, why, write_atomically
from sftp.settings import SftpSettings


@dataclass(frozen=True)
class ReportOutcome:
    reconciliation: Reconciliation
    csv_path: Path
    xlsx_path: Path
    uploaded: tuple[str, ...] | None
    """The remote paths in `_finance/outbox`, or None when not uploaded (see `not_uploaded`)."""
    not_uploaded: str | None = None
    """Why the files were not uploaded, in Chinese; None when they were."""

    @property
    def agree(self) -> bool:
        """Whether the control totals agree (the CLI exits 1 when they do not)."""
        return self.reconciliation.agree


def reconcile_report(
    sftp: SftpSettings | None, store: Store, month: int, out_dir: Path, *, upload: bool = True, arrival: bool = False
) -> ReportOutcome:
    """Write `reconciliation_YYYYMM.csv` and `.xlsx` into out_dir, then upload both when SFTP is configured.

    Raises ValueError for a month that is not YYYYMM (before touching anything),
    SQLAlchemyError when the database fails, LocalFileError when out_dir cannot be
    written, and SftpError when the upload fails (the local files exist by then).
    """
    with snapshot(store.engine) as conn:
        r = reconcile(conn, month, arrival=arrival)
    files = dict(zip(file_names(month), (reconciliation_csv(r), reconciliation_xlsx(r)), strict=True))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LocalFileError(f"无法创建报表目录 {out_dir}：{why(e)}") from e
    paths = [write_atomically(out_dir / name, data) for name, data in files.items()]
    uploaded: tuple[str, ...] | None = None
    reason: str | None = None
    if not upload:
        reason = "按要求未上传"
    elif sftp is None:
        reason = "未配置 [sftp]，报表只写在本地"
    else:
        from sftp.client import SftpClient

        with SftpClient(sftp) as client:
            uploaded = tuple(client.publish_finance(files))
    return ReportOutcome(r, paths[0], paths[1], uploaded, reason)
