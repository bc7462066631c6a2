"""One mechanism for each job, everywhere: blocking calls through `core.tasks.run_blocking`,
background tasks owned by a `core.tasks.TaskSet` (or the app's `spawn`), listeners kept in a
`core.listeners.Listeners`. A second way of doing one of these is what this test finds.

A future made only to be raced in an `asyncio.wait` inside the same function (wait for this or
that, cancel the loser) is not background work and stays allowed."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "cocoon_desktop"
CORE_TASKS = "core/tasks.py"
CORE_LISTENERS = "core/listeners.py"
STARTERS = ("create_task", "ensure_future")


def sources() -> dict[str, ast.AST]:
    return {path.relative_to(PACKAGE).as_posix():
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for path in sorted(PACKAGE.rglob("*.py"))}


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def called(tree: ast.AST, *names: str) -> list[int]:
    """Lines calling `x.name(...)` or `name(...)` for any of `names`."""
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and _name(node.func) in names]


def where(*names: str, allowed: str = "") -> list[str]:
    return [f"{file}:{line}" for file, tree in sources().items() if file != allowed
            for line in called(tree, *names)]


def raced_in_a_wait(function: ast.AST) -> set[int]:
    """Lines of `x = create_task/ensure_future(...)` in `function` whose `x` is only raced in
    an `asyncio.wait` of the same function."""
    waited = {name.id for node in ast.walk(function)
              if isinstance(node, ast.Call) and _name(node.func) == "wait"
              for name in ast.walk(node) if isinstance(name, ast.Name)}
    return {node.lineno for node in ast.walk(function)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
            and _name(node.value.func) in STARTERS
            and all(isinstance(t, ast.Name) and t.id in waited for t in node.targets)}


def test_blocking_calls_go_through_run_blocking() -> None:
    assert where("to_thread") == []


def test_background_tasks_are_started_only_by_core_tasks() -> None:
    started = []
    for file, tree in sources().items():
        if file == CORE_TASKS:
            continue
        raced = {line for node in ast.walk(tree)
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                 for line in raced_in_a_wait(node)}
        started += [f"{file}:{line}" for line in called(tree, *STARTERS) if line not in raced]
    assert started == []


def test_spawn_and_cancel_and_wait_exist_once() -> None:
    defined = [f"{file}:{node.name}" for file, tree in sources().items()
               for node in ast.walk(tree)
               if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
               and node.name.lstrip("_") in ("spawn", "cancel_and_wait", "cancel_all")]
    assert sorted(defined) == [f"{CORE_TASKS}:cancel_all", f"{CORE_TASKS}:cancel_and_wait",
                               f"{CORE_TASKS}:spawn", f"{CORE_TASKS}:spawn"]


def test_listeners_are_kept_in_core_listeners() -> None:
    """No hand-written list of listeners (`self._listeners: list[Listener] = []` and the like):
    an attribute named for listeners that starts as a list."""
    lists = []
    for file, tree in sources().items():
        for node in ast.walk(tree):
            if file == CORE_LISTENERS or not isinstance(node, ast.AnnAssign | ast.Assign):
                continue
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            starts_as_list = isinstance(node.value, ast.List) or (
                isinstance(node, ast.AnnAssign) and "list[" in ast.unparse(node.annotation))
            lists += [f"{file}:{node.lineno}" for target in targets
                      if isinstance(target, ast.Attribute) and starts_as_list
                      and ("listener" in target.attr or "callbacks" in target.attr)]
    assert lists == []
