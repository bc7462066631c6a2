"""Each fact is established once and carried: a payment statement is verified where it comes
off a wire into this process and nowhere else (the proxy's, in the worker; the VM's control
channel, on the host side of a worker that runs in the confidential VM: a `VerifiedStatement`
cannot cross a process boundary, only its bytes do); the earnings records are built by the
earnings side only.
(The behaviour is tested where it happens: tests/unit/network/test_network_payments.py,
tests/unit/earnings/test_earnings_recorder.py and test_earnings_ledger.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cocoon_desktop"
EARNINGS_RECORDS = {"ServedRequest", "ProxySession", "PayoutRecord", "RejectedStatement"}


def calls_in(path: Path) -> set[str]:
    """The names of the functions and classes `path` calls (`f(...)`, `obj.f(...)`)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.id if isinstance(func, ast.Name)
                      else func.attr if isinstance(func, ast.Attribute) else "")
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                names.add(f"{func.value.id}.{func.attr}")
    return names


def callers_of(*names: str) -> list[str]:
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
                  if calls_in(p) & set(names))


def test_a_statement_is_verified_once_where_it_comes_off_the_wire() -> None:
    assert callers_of("verify_statement") == ["network/worker/accounts.py", "vm/events.py"]


def test_only_the_earnings_side_builds_its_records() -> None:
    builders = callers_of(*EARNINGS_RECORDS, *(f"{r}.from_usage" for r in EARNINGS_RECORDS))
    assert [b for b in builders if not b.startswith("earnings/")] == []
