"""Crash safety: SIGKILL real writer processes at random moments, many times, then audit.

Two writers share one ledger file (each with its own proxy), so the busy timeout is exercised
too. After every kill the ledger must hold every row a writer reported as committed, each row
exactly as written (no partial rows), requests as a gap-free prefix (no lost commit), no
duplicate after re-sends, and statement plus proxy report written together or not at all.

SIGKILL proves process-crash safety; power-loss safety rests on `synchronous=FULL` (each commit
fsyncs the WAL), which this test checks is set but cannot cut power to prove.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cocoon_desktop.earnings.ledger import Ledger
from tests.integration.earnings import ledger_kill_writer as writer_mod

REPO = Path(__file__).resolve().parents[3]
ROUNDS = 30
WRITERS = (0, 1)


class Reported:
    """What a writer said it committed, read from its stdout by a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.requests: set[int] = set()
        self.statements: set[int] = set()
        self.payouts: set[int] = set()
        self.lines = 0
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            kind, *values = line.split()
            if kind == "R":
                self.requests.add(int(values[0]))
            elif kind == "S":
                self.statements.add(int(values[0]))
            elif kind == "P":
                self.payouts.add(int(values[1]))
            self.lines += 1

    def join(self) -> None:
        self._thread.join(timeout=10)


def start_writer(path: Path, writer: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.earnings.ledger_kill_writer", str(path),
         str(writer)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def run_round(path: Path, rng: random.Random) -> dict[int, Reported]:
    procs = {w: start_writer(path, w) for w in WRITERS}
    reported = {w: Reported(p) for w, p in procs.items()}
    # Let them get going (imports take a while), then kill each at its own random moment.
    deadline = time.monotonic() + 20
    while min(r.lines for r in reported.values()) < 3 and time.monotonic() < deadline:
        for w, p in procs.items():
            if p.poll() is not None:
                pytest.fail(f"writer {w} died on its own: {p.stderr.read()}")
        time.sleep(0.01)
    for w in rng.sample(WRITERS, len(WRITERS)):
        time.sleep(rng.uniform(0, 0.25))
        procs[w].send_signal(signal.SIGKILL)
    for w, p in procs.items():
        assert p.wait(timeout=10) == -signal.SIGKILL
        reported[w].join()
        p.stdout.close()
        p.stderr.close()
    return reported


def audit(path: Path, writer: int, reported: Reported) -> int:
    """Check one writer's rows; return how many requests it has committed in total."""
    key = writer_mod.proxy_key(writer)
    with Ledger.open(path) as ledger:
        assert ledger.check_integrity() == []
        stored = [r for r in ledger.requests() if r.proxy_key == key]
        numbers = sorted(int(r.request_id[8:], 16) for r in stored)
        assert numbers == list(range(len(numbers))), "a committed request is missing"
        assert reported.requests <= set(numbers), "a reported commit was lost"
        for row in stored:  # every column exactly as written: no partial or mixed rows
            assert row == writer_mod.request(writer, int(row.request_id[8:], 16))
        earned = ledger.query("SELECT sum(earned_nanoton) FROM served_requests "
                              "WHERE proxy_key = ?", (key,))[0][0] or 0
        assert earned == sum(r.earned_nanoton for r in stored)
        rollup = ledger.query("SELECT sum(requests), sum(earned_nanoton) FROM hourly_totals "
                              "WHERE proxy_key = ?", (key,))[0]
        assert tuple(v or 0 for v in rollup) == (len(stored), earned), "rollup out of step"
        statements = {s.tokens_committed for _, s in ledger.statements(key)}
        assert reported.statements <= statements
        assert statements <= set(writer_mod.cumulative_tokens(writer, len(numbers)))
        info = ledger.proxy(key)
        assert info.db_tokens == info.max_tokens == max(statements, default=0)
        payouts = {p.id: p for p in ledger.payouts(key)}
        assert reported.payouts <= set(payouts)
        assert len({p.body_hash for p in payouts.values()}) == len(payouts)
    return len(numbers)


@pytest.mark.slow
def test_sigkill_at_random_points_never_loses_or_doubles_a_row(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    rng = random.Random(int.from_bytes(os.urandom(4)))
    progress = {w: 0 for w in WRITERS}
    for _ in range(ROUNDS):
        reported = run_round(path, rng)
        for w in WRITERS:
            total = audit(path, w, reported[w])
            assert total >= progress[w]
            progress[w] = total
    # Each writer re-sent rows from before its last kill in every round; all still count once.
    assert min(progress.values()) > ROUNDS
