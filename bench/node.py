"""What the node adds around the engine: time to serve, time to stop, and the status it
publishes on every GPU tick and worker event.

    .venv/bin/python bench/node.py [--rounds 3]

1. Start: a bare `EngineSupervisor` (start -> ready) beside a whole devnet `Node` (open ->
   start_serving -> SERVING: monitoring, ledger, wallet, engine, devnet, worker, stats surface),
   same model and settings, rounds alternating; ratio = node / bare engine (medians).
2. Stop: `EngineSupervisor.stop()` beside `Node.close()` (drain, engine, ledger, tasks).
3. Status: one `Node.publish()` (a full NodeStatus with its rule, to no listener) beside one
   `Worker.status()` (the worker snapshot it includes), per call.
The machine is shared: figures are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


async def whole_node(folder: Path, calls: int) -> tuple[float, float, float, float]:
    node = Node(NodeConfig(home=folder, **CONFIG))  # type: ignore[arg-type]
    start = time.perf_counter()
    await node.open()
    await node.start_serving()
    while node.status.state is not NodeState.SERVING:
        await asyncio.sleep(0.01)
    ready = time.perf_counter() - start
    assert node.worker.opened is not None
    worker = node.worker.opened.worker
    start = time.perf_counter()
    for _ in range(calls):
        node.publish()
    publish = (time.perf_counter() - start) / calls
    start = time.perf_counter()
    for _ in range(calls):
        worker.status()
    snapshot = (time.perf_counter() - start) / calls
    start = time.perf_counter()
    await node.close()
    return ready, time.perf_counter() - start, publish, snapshot


async def main(rounds: int, calls: int) -> None:
    bare: list[tuple[float, float]] = []
    full: list[tuple[float, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            bare.append(await bare_engine(Path(tmp) / f"bare-{n}"))
            full.append(await whole_node(Path(tmp) / f"node-{n}", calls))

    def median(values: list[tuple[float, ...]], index: int) -> float:
        return statistics.median(v[index] for v in values)

    start_b, start_n = median(bare, 0), median(full, 0)
    stop_b, stop_n = median(bare, 1), median(full, 1)
    pub, snap = median(full, 2), median(full, 3)
    print(f"start to serving: bare engine {start_b:.2f} s, node {start_n:.2f} s "
          f"(ratio {start_n / start_b:.2f})")
    print(f"stop:             bare engine {stop_b:.2f} s, node {stop_n:.2f} s "
          f"(ratio {stop_n / stop_b:.2f})")
    print(f"status:           Worker.status() {snap * 1e6:.1f} us, Node.publish() "
          f"{pub * 1e6:.1f} us (ratio {pub / snap:.1f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.calls))
