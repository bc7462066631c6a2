"""The house's layout: packages import one way down (docs/ARCHITECTURE.md, "Package order"), no
file of a package imports another that imports it back, and only `ui` touches Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "cocoon_desktop"
# Lowest first. A package may import the packages of lower layers, never its own layer's others
# nor higher ones. `cocoon_desktop` itself (the version) may be imported from anywhere.
LAYERS: list[set[str]] = [
    {"core", "settings", "resources"},  # plumbing, the settings model, shipped files
    {"protocol"},  # Cocoon's own facts: TON amounts, pricing, statements, quotes, model names
    {"engine", "hardware", "wallet", "platform"},  # the machine's services, side by side
    {"network"},  # the Cocoon protocol, speaking for the engine
    {"earnings", "doctor"},  # what the worker earned; what this machine can serve
    {"vm"},  # the confidential VM: the engine and the worker in a guest, driven from the host
    {"node"},  # one worker on one GPU with everything around it
    {"headless", "ui_logic"},  # front ends without Qt
    {"ui"},  # the desktop app (Qt)
    {"cli"},  # the command line, over everything
    {"__main__"},
]
LAYER_OF = {name: index for index, layer in enumerate(LAYERS) for name in layer}
QT_MODULES = ("PySide6", "qasync", "shiboken6")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports (at any depth: lazy and TYPE_CHECKING imports count too),
    relative imports resolved."""
    own = module_name(path) if path.is_relative_to(PACKAGE) else path.stem
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def project_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "cocoon_desktop" and len(parts) > 1 else None


def existing_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_every_package_has_a_layer() -> None:
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in project_files()}
    assert sorted(tops - set(LAYER_OF) - {"__init__"}) == []


@pytest.mark.parametrize("package", sorted(LAYER_OF))
def test_packages_import_only_lower_layers(package: str) -> None:
    files = [p for p in project_files() if top(module_name(p)) == package]
    wrong = []
    for path in files:
        for line, name in imports_of(path):
            target = top(name)
            if target is None or target == package or target not in LAYER_OF:
                continue
            if LAYER_OF[target] >= LAYER_OF[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert sorted(set(wrong)) == []


def module_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in project_files():
        own = module_name(path)
        for _line, name in imports_of(path):
            if name != own and existing_module(name) and not own.startswith(name + "."):
                graph[own].add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in list(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = module_graph()
    package_inits = {m for m in graph if (PACKAGE.parent / m.replace(".", "/")).is_dir()}
    # A package's __init__ re-exporting its modules is not a cycle of design.
    trimmed = {m: {t for t in ts if t not in package_inits} for m, ts in graph.items()}
    assert cycles(trimmed) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def qt_imports(path: Path) -> list[str]:
    return [f"{path}:{line} imports {name}" for line, name in imports_of(path)
            if name.startswith(QT_MODULES)]


@pytest.mark.parametrize("package", sorted(set(LAYER_OF) - {"ui"}))
def test_only_ui_imports_qt(package: str) -> None:
    files = [p for p in project_files() if top(module_name(p)) == package]
    assert [hit for f in files for hit in qt_imports(f)] == []


def test_qt_import_detector_finds_qt(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom PySide6.QtCore import QObject\nimport qasync\n")
    assert len({hit.split(" imports ")[1].split(".")[0] for hit in qt_imports(bad)}) == 2


def test_importing_every_core_module_loads_no_qt() -> None:
    """Import each module outside `ui` (and the GUI-launching commands) in a fresh interpreter
    and check Qt stayed out of sys.modules."""
    gui = ("cocoon_desktop.ui", "cocoon_desktop.__main__")
    modules = [m for m in map(module_name, project_files()) if not m.startswith(gui)]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({QT_MODULES!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
