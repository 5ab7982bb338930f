"""`hpf demo`: the built-in samples end to end, in a throw-away folder.

Until the pipeline exists this is the validator's demo: a fresh SQLite
database, the sample master data imported, and every sample file checked,
each against the outcome recorded beside it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from batch.db import make_engine, upgrade
from batch.store import Store
from jobs import check, master
from jobs.settings import load_settings

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
DEMO_TODAY = "2026-11-22"
"""The samples are the November 2026 filing; the demo replays that day."""


def sample_cases(samples: Path = SAMPLES) -> list[tuple[Path, dict[str, object]]]:
    """(file, expectation) for every sample: valid files expect no codes."""
    cases: list[tuple[Path, dict[str, object]]] = [
        (f, {"codes": []}) for f in sorted((samples / "valid").iterdir()) if f.suffix in (".csv", ".xlsx")
    ]
    for folder in sorted(p for p in (samples / "invalid").iterdir() if p.is_dir()):
        expected = json.loads((folder / "expected.json").read_text("utf-8"))
        files = [f for f in sorted(folder.iterdir()) if f.name != "expected.json" and not f.name.endswith(".done")]
        cases += [(f, expected) for f in files]
    return cases


def run(console: Console, keep: Path | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="hpf-demo-") as tmp:
        home = keep or Path(tmp)
        home.mkdir(parents=True, exist_ok=True)
        config = home / "hpf.toml"
        config.write_text('[database]\nurl = "sqlite:///hpf-demo.db"\n', "utf-8")
        settings = load_settings(config, environ={"HPF_TODAY": DEMO_TODAY})
        store = Store(make_engine(settings.database.url))
        upgrade(store.engine)
        counts = master.import_accounts(
            settings, store, SAMPLES / "master" / "employers.csv", SAMPLES / "master" / "members.csv"
        )
        if isinstance(counts, list):
            console.print("样例主数据有误：", *map(str, counts))
            return 1
        console.print(f"[bold]hpf demo[/]（{DEMO_TODAY}）：数据库 {settings.database.url}")
        console.print(f"导入主数据：{counts.employers_new}个单位，{counts.members_new}名职工。")
        table = Table(title="样例文件检查结果", header_style="bold")
        for header in ("文件", "行数", "结果", "原因代码", "与预期一致"):
            table.add_column(header)
        mismatches = 0
        for path, expected in sample_cases():
            marker = path.parent / f"{path.name}.done"
            report = check.validate_file(
                settings,
                store,
                path,
                expected.get("inbox_unit"),  # type: ignore[arg-type]
                marker if marker.exists() else None,
            )
            codes = sorted({p.code for p in report.problems()})
            want = sorted({c["code"] for c in expected["codes"]})  # type: ignore[attr-defined]
            same = codes == want
            mismatches += not same
            table.add_row(
                str(path.relative_to(SAMPLES)),
                str(report.rows.height),
                "[green]VALID[/]" if report.ok else "[red]REJECTED[/]",
                " ".join(codes) or "-",
                "✓" if same else f"[red]✗ 预期 {' '.join(want)}[/]",
            )
        console.print(table)
        console.print("用 [bold]hpf validate 文件[/] 查看每个错误的行、列和说明。")
        return 1 if mismatches else 0
