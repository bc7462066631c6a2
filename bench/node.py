"""What the node adds around the engine: time to serve, time to stop, and the status it
publishes on every GPU tick and worker event.

    .venv/bin/python bench/node.py [--rounds 2] [--calls 2000]

1. Start: a bare `EngineSupervisor` (start -> ready) beside a whole devnet `Node` (open ->
   start_serving -> SERVING: monitoring, ledger, wallet, engine, devnet, worker, stats surface),
   same model and settings; ratio = node / bare engine.
2. Stop: `EngineSupervisor.stop()` beside `Node.close()` (drain, engine, ledger, tasks).
The two sides run alone, each in its own event loop, in `--rounds` ABBA rounds (bench/abba.py):
medians per side, the ratio's median and range over the rounds.
3. Status: one `Node.publish()` (a full NodeStatus with its rule, to no listener) beside one
   `Worker.status()` (the worker snapshot it includes), per call: both inside each running node
   (the worker lives in it), one ABBA round of `--calls` / 4 calls per run in each node run.
The machine is shared: figures are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abba import abba, abba_many, pick, setting, spread

from cocoon_desktop.engine.host.supervisor import EngineSupervisor
from cocoon_desktop.engine.models.model_library import ModelLibrary
from cocoon_desktop.node.config import NodeConfig, paths_under
from cocoon_desktop.node.engine_plan import plan_engine
from cocoon_desktop.node.node import Node
from cocoon_desktop.node.status import NodeState

CONFIG = {"stats_port": 0, "max_active_requests": 2, "context_tokens": 1024, "threads": 2}


async def bare_engine(folder: Path) -> tuple[float, float]:
    paths = paths_under(folder).ensure()
    settings = plan_engine(NodeConfig(**CONFIG), ModelLibrary(paths), None, False).settings
    supervisor = EngineSupervisor(settings)
    start = time.perf_counter()
    await supervisor.start()
    await supervisor.wait_ready(300)
    ready = time.perf_counter() - start
    start = time.perf_counter()
    await supervisor.stop()
    return ready, time.perf_counter() - start


async def whole_node(folder: Path, calls: int) -> tuple[float, float, float, float, float]:
    """(start s, stop s, Worker.status() s per call, Node.publish() s per call, their ratio)."""
    node = Node(NodeConfig(home=folder, **CONFIG))  # type: ignore[arg-type]
    start = time.perf_counter()
    await node.open()
    await node.start_serving()
    while node.status.state is not NodeState.SERVING:
        await asyncio.sleep(0.01)
    ready = time.perf_counter() - start
    assert node.worker.opened is not None
    worker = node.worker.opened.worker
    status = abba(1, lambda: per_call(worker.status, calls // 4),
                  lambda: per_call(node.publish, calls // 4))
    start = time.perf_counter()
    await node.close()
    stop = time.perf_counter() - start
    return ready, stop, status.median_a(), status.median_b(), status.ratios()[0]


def per_call(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main(rounds: int, calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, setting(
            "each side alone, in its own event loop: the bare side is one engine process, the "
            "node side this process's node and its engine process; nothing else of ours alive"):
        folders = (Path(tmp) / f"run-{n}" for n in itertools.count())
        bare, full = abba_many(rounds, lambda: asyncio.run(bare_engine(next(folders))),
                               lambda: asyncio.run(whole_node(next(folders), calls)))
        start, stop = pick(bare, full, 0), pick(bare, full, 1)
        print(f"start to serving: bare engine {start.median_a():.2f} s, node "
              f"{start.median_b():.2f} s, ratio {spread(start.ratios())}")
        print(f"stop:             bare engine {stop.median_a():.2f} s, node "
              f"{stop.median_b():.2f} s, ratio {spread(stop.ratios())}")
        snapshot = statistics.median(run[2] for run in full)
        publish = statistics.median(run[3] for run in full)
        ratios = [run[4] for run in full]
        print(f"status:           Worker.status() {snapshot * 1e6:.1f} us, Node.publish() "
              f"{publish * 1e6:.1f} us, ratio {statistics.median(ratios):.1f} "
              f"({min(ratios):.1f} to {max(ratios):.1f}, one ABBA round in each of "
              f"{len(ratios)} node runs)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    main(args.rounds, args.calls)
