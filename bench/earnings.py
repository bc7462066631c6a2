"""The earnings ledger's cost: durable writes and dashboard figures, against plain SQLite.

    .venv/bin/python bench/earnings.py [--writes 300] [--rows 200000]

1. Writes: `Ledger.record_request` (one fsynced transaction per request, as the worker does)
   beside a bare `sqlite3` INSERT + COMMIT with the same pragmas (WAL, synchronous=FULL) on the
   same disk. Ratio = ledger writes/s over bare writes/s (1.0 = no overhead over SQLite itself).
2. Figures: `summarize()` (four periods, pending/paid, rates, per-model and per-proxy) on a
   ledger of `--rows` requests, beside one bare `SELECT sum(earned_nanoton)` over the same table.
The machine is shared: figures are noisy; the best of three runs of each is kept.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cocoon_desktop.earnings.figures import summarize
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.records import ServedRequest, to_ms
from cocoon_desktop.earnings.schema import migrate
from cocoon_desktop.protocol.pricing import TokenCounts

PROXY = "ab" * 32
START = datetime(2025, 1, 1, tzinfo=UTC)


def request(n: int) -> ServedRequest:
    finished = START + timedelta(seconds=n * 60 % (400 * 86400))
    return ServedRequest(
        request_id=f"{n:064x}", proxy_key=PROXY, model=f"model-{n % 4}",
        tokens=TokenCounts(100, 10, 50 + n % 40, 0), coefficient=1000,
        adjusted_tokens=150 + n % 40, worker_fee_per_token=1000,
        started_at=finished - timedelta(seconds=3), finished_at=finished,
        energy_j=40.0, energy_cost_nano=3_300_000, energy_currency="EUR")


def best_of(runs: int, action) -> float:
    return min(action() for _ in range(runs))


def ledger_writes(folder: Path, count: int) -> float:
    path = folder / f"ledger-{time.monotonic_ns()}.sqlite3"
    with Ledger.open(path) as ledger:
        start = time.perf_counter()
        for n in range(count):
            ledger.record_request(request(n))
        return time.perf_counter() - start


def bare_writes(folder: Path, count: int) -> float:
    conn = sqlite3.connect(folder / f"bare-{time.monotonic_ns()}.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    migrate(conn)
    start = time.perf_counter()
    for n in range(count):
        r = request(n)
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO served_requests (request_id, proxy_key, model, prompt_tokens, "
            "cached_tokens, completion_tokens, reasoning_tokens, coefficient, adjusted_tokens, "
            "worker_fee_per_token, earned_nanoton, started_at_ms, finished_at_ms, succeeded) "
            "VALUES (?, ?, ?, 100, 10, 50, 0, 1000, ?, 1000, ?, ?, ?, 1)",
            (r.request_id, PROXY, r.model, r.adjusted_tokens, r.earned_nanoton,
             to_ms(r.started_at), to_ms(r.finished_at)))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def filled_ledger(folder: Path, rows: int) -> Path:
    path = folder / "big.sqlite3"
    with Ledger.open(path) as ledger:
        for first in range(0, rows, 5000):
            ledger.record_requests(request(n) for n in range(first, min(rows, first + 5000)))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        folder = Path(tmp)
        ours = best_of(3, lambda: ledger_writes(folder, args.writes))
        bare = best_of(3, lambda: bare_writes(folder, args.writes))
        print(f"durable writes: ledger {args.writes / ours:,.0f}/s, bare sqlite "
              f"{args.writes / bare:,.0f}/s, ratio {bare / ours:.2f}")
        path = filled_ledger(folder, args.rows)
        now = START + timedelta(days=200)
        with Ledger.open(path) as ledger:
            def timed_summary() -> float:
                start = time.perf_counter()
                summarize(ledger, now=now, zone=UTC)
                return time.perf_counter() - start

            def timed_bare() -> float:
                start = time.perf_counter()
                ledger.query("SELECT sum(earned_nanoton) FROM served_requests")
                return time.perf_counter() - start

            full = best_of(3, timed_summary)
            one = best_of(3, timed_bare)
        print(f"summary on {args.rows:,} requests: {full * 1000:.1f} ms; one bare sum "
              f"{one * 1000:.1f} ms; ratio {full / one:.1f}")


if __name__ == "__main__":
    main()
