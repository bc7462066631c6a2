"""The processes `bench/network.py` runs beside itself, each in its own process as in production
(where the proxy and the client run on other machines), so each one's CPU is its own:

    python bench/network_parts.py devnet          # proxy + client + the client's HTTP endpoint
    python bench/network_parts.py worker JSON SLOTS HOLD_S THREADS  # the engine + worker

Each prints one JSON line once it is ready (where to reach it) and runs until its stdin closes.
Both hops use fake-TDX attestation and the proof of work, as `cocoon-desktop-cli devnet` does.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cocoon_desktop.engine.attestation.providers import FakeTdxProvider
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.devnet.network import (
    DEVNET_WORKER_OWNER,
    DevnetSettings,
    start_devnet,
)
from cocoon_desktop.network.ratls import make_identity
from cocoon_desktop.network.root_config import friendly, from_fake_ton_json
from cocoon_desktop.network.transport import Endpoint
from cocoon_desktop.network.worker.types import WorkerConfig
from cocoon_desktop.network.worker.worker import Worker
from tests.helpers.devnet_harness import MODEL_NAME, engine_settings, running_engine, wait_until


async def until_stdin_closes() -> None:
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def announce(facts: dict[str, object]) -> None:
    print(json.dumps(facts), flush=True)


async def run_devnet() -> None:
    settings = DevnetSettings(worker_policy=AttestationPolicy("fake_tdx"))  # the default PoW
    devnet = await start_devnet(settings, proxy_provider=FakeTdxProvider())
    try:
        with tempfile.TemporaryDirectory(prefix="cocoon-bench-") as folder:
            root_file = Path(folder) / "root.json"
            devnet.write_root_config(root_file)
            announce({"http_url": devnet.http_url, "http_token": settings.http_token,
                      "workers": str(devnet.workers_endpoint),
                      "root_contract": devnet.root_contract_address,
                      "root_config": json.loads(root_file.read_text())})
            await until_stdin_closes()
    finally:
        await devnet.stop()


async def run_worker(devnet: dict[str, object], slots: int, hold_s: float,
                     threads: int) -> None:
    async with running_engine(engine_settings(parallel_sequences=slots, threads=threads),
                              probe_interval_s=30.0) as supervisor:
        endpoint = supervisor.endpoint
        assert endpoint is not None and supervisor.status.pid is not None
        config = WorkerConfig(
            owner_address=friendly(DEVNET_WORKER_OWNER), model_name=MODEL_NAME,
            engine=lambda: supervisor.endpoint,
            root_config=from_fake_ton_json(devnet["root_config"]),  # type: ignore[arg-type]
            root_contract_address=str(devnet["root_contract"]),
            proxies=(Endpoint.parse(str(devnet["workers"])),),
            proxy_policy=AttestationPolicy("fake_tdx"), max_active_requests=slots,
            answer_part_hold_s=hold_s)
        worker = Worker(config, make_identity(FakeTdxProvider()))
        await worker.start()
        try:
            await wait_until(lambda: worker.status().connected_proxies == 1, 60)
            announce({"engine_url": endpoint.base_url, "engine_token": endpoint.token,
                      "engine_pid": supervisor.status.pid})
            await until_stdin_closes()
        finally:
            await worker.stop()


def main() -> None:
    role = sys.argv[1]
    if role == "devnet":
        asyncio.run(run_devnet())
    elif role == "worker":
        asyncio.run(run_worker(json.loads(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
                               int(sys.argv[5])))
    else:
        raise SystemExit(f"unknown part {role!r}: devnet or worker")


if __name__ == "__main__":
    main()
