"""The layers of the tree, checked: every module's imports point down, never up or sideways.

    schemas  <-  batch  <-  db  <-  jobs  <-  web
    schemas  <-  sftp   <-  jobs

`schemas` imports nothing of ours; `batch` only `schemas`; `db` the two below
it; `sftp` only `schemas`; `jobs` wires them all; `web`, the console, sits on
`jobs`, and only the entry point (`hpf web`) reaches up to it. An import inside
a function counts too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast

import pytest

from tests.support.samples import ROOT

ALLOWED: dict[str, frozenset[str]] = {
    "schemas": frozenset(),
    "batch": frozenset({"schemas"}),
    "db": frozenset({"schemas", "batch"}),
    "sftp": frozenset({"schemas"}),
    "jobs": frozenset({"schemas", "batch", "db", "sftp"}),
    "web": frozenset({"schemas", "batch", "db", "sftp", "jobs"}),
}
"""Each layer and the layers it may import (besides itself)."""

ENTRY_POINT = "jobs/cli.py"
"""The `hpf` command itself may start the console (`hpf web`, lazily): the one arrow up, from the entry point."""


def imported_layers(source: str) -> set[tuple[int, str]]:
    """(line, top-level package) of every import of one of our layers in the source."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {(node.lineno, a.name.split(".")[0]) for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.lineno, node.module.split(".")[0]))
    return {(line, top) for line, top in found if top in ALLOWED}


def wrong_arrows(layer: str, name: str, source: str) -> list[str]:
    """`name:line imports X` for every import in `source` that a module of `layer` may not make."""
    allowed = ALLOWED[layer] | {layer} | ({"web"} if name == ENTRY_POINT else set())
    return [f"{name}:{line} imports {top}" for line, top in sorted(imported_layers(source)) if top not in allowed]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_down(layer: str) -> None:
    modules = sorted((ROOT / layer).rglob("*.py"))
    assert modules, f"no modules in {layer}/"
    found = [wrong_arrows(layer, str(p.relative_to(ROOT)), p.read_text("utf-8")) for p in modules]
    assert [w for wrong in found for w in wrong] == []


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_every_package_says_what_lives_there_and_what_it_may_import(layer: str) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / layer / "__init__.py").read_text("utf-8")))
    assert doc and len(doc.splitlines()) >= 3, f"{layer}/__init__.py needs a docstring of a few lines"
    assert "import" in doc, f"{layer}/__init__.py should say what it may import"


def test_a_wrong_arrow_is_caught() -> None:
    """The check itself can fail: a core module reaching up into the database edge, even lazily."""
    probe = "from schemas.codes import Problem\n\ndef f():\n    from db.tables import batches\n    import sftp.client\n"
    assert wrong_arrows("batch", "batch/probe.py", probe) == [
        "batch/probe.py:4 imports db",
        "batch/probe.py:5 imports sftp",
    ]
    assert wrong_arrows("schemas", "schemas/probe.py", "import batch.money\n") == ["schemas/probe.py:1 imports batch"]
    assert wrong_arrows("jobs", "jobs/probe.py", probe) == []
