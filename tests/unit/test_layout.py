"""The house rule: core packages never import Qt (only cocoon_desktop/ui may)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cocoon_desktop"
CORE = ["engine", "wallet", "network", "hardware", "earnings", "platform", "node", "vm"]
QT_MODULES = ("PySide6", "qasync", "shiboken6")


def qt_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    hits = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        hits += [f"{path}:{node.lineno} imports {n}" for n in names if n.startswith(QT_MODULES)]
    return hits


@pytest.mark.parametrize("package", CORE)
def test_core_package_source_never_imports_qt(package: str) -> None:
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files, f"cocoon_desktop/{package} has no modules"
    assert [hit for f in files for hit in qt_imports(f)] == []


def test_qt_import_detector_finds_qt(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom PySide6.QtCore import QObject\nimport qasync\n")
    assert len(qt_imports(bad)) == 2


def test_importing_every_core_module_loads_no_qt() -> None:
    """Import each core module in a fresh interpreter and check Qt stayed out of sys.modules."""
    modules = [
        ".".join(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        for package in CORE
        for f in sorted((PACKAGE / package).rglob("*.py"))
        if f.name != "__main__.py"
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({QT_MODULES!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=PACKAGE.parent,
    )
    assert out.stdout.strip() == "[]"
