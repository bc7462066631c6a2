"""The earnings ledger's cost: durable writes and dashboard figures, against plain SQLite.

    .venv/bin/python bench/earnings.py [--writes 300] [--rows 200000] [--rounds 2]

1. Writes: `Ledger.record_request` (one fsynced transaction per request, as the worker does)
   beside a bare `sqlite3` INSERT + COMMIT with the same pragmas (WAL, synchronous=FULL) on the
   same disk. Ratio = ledger writes/s over bare writes/s (1.0 = no overhead over SQLite itself).
2. Figures: `summarize()` (four periods, pending/paid, rates, per-model and per-proxy) on a
   ledger of `--rows` requests, beside one bare `SELECT sum(earned_nanoton)` over the same table,
   each run opening the ledger outside its timed region and closing it after.
Each side runs alone, in `--rounds` ABBA rounds (bench/abba.py): medians per side, and the ratio's
median and range over the rounds. The machine is shared: figures are noisy.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abba import abba, setting, spread

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


def timed_query(path: Path, query: Callable[[Ledger], object]) -> float:
    """Seconds for one query on a freshly opened ledger (opening and closing not timed)."""
    with Ledger.open(path) as ledger:
        start = time.perf_counter()
        query(ledger)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp, setting():
        folder = Path(tmp)
        writes = abba(args.rounds, lambda: args.writes / bare_writes(folder, args.writes),
                      lambda: args.writes / ledger_writes(folder, args.writes))
        print(f"durable writes: ledger {writes.median_b():,.0f}/s, bare sqlite "
              f"{writes.median_a():,.0f}/s, ratio {spread(writes.ratios())}")
        path = filled_ledger(folder, args.rows)
        now = START + timedelta(days=200)
        bare_sum = "SELECT sum(earned_nanoton) FROM served_requests"
        times = abba(args.rounds, lambda: timed_query(path, lambda ledger: ledger.query(bare_sum)),
                     lambda: timed_query(path, lambda ledger: summarize(ledger, now=now,
                                                                        zone=UTC)))
        print(f"summary on {args.rows:,} requests: {times.median_b() * 1000:.1f} ms; one bare "
              f"sum {times.median_a() * 1000:.1f} ms; ratio {spread(times.ratios())}")


if __name__ == "__main__":
    main()
