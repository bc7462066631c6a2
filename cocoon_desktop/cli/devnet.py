"""`cocoon-desktop-cli devnet`: run a local Cocoon TEST network on this machine.

It starts a proxy (workers connect over RA-TLS) and a client with an OpenAI-compatible endpoint
and writes the root config a worker needs. `--with-engine` also starts the app's engine (the
bundled model unless `--model-path` names a GGUF) and a worker serving it, so the whole path
client -> proxy -> worker -> engine runs with one command; `--engine-url` serves an engine that
is already running instead (its bearer token from COCOON_ENGINE_TOKEN, never from the command
line, which others can see).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from cocoon_desktop.core.logs import register_secret, setup_logging
from cocoon_desktop.engine.host.supervisor import EngineStartError, EngineSupervisor
from cocoon_desktop.engine.models.bundled import ModelFileMissing, bundled_model_path
from cocoon_desktop.engine.types import EngineEndpoint, EngineSettings, EngineState
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.devnet.network import (
    DEVNET_WORKER_OWNER,
    Devnet,
    DevnetSettings,
    start_devnet,
)
from cocoon_desktop.network.ratls import make_identity
from cocoon_desktop.network.root_config import friendly
from cocoon_desktop.network.worker.types import WorkerConfig
from cocoon_desktop.network.worker.worker import Worker

log = logging.getLogger(__name__)
BANNER = """
==========================================================================================
  COCOON DEVNET: a TEST network on this machine. Nothing here is mainnet, no real TON moves,
  and the payments the proxy signs are worthless outside this process.
==========================================================================================
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Run a local Cocoon test network (proxy + client) on loopback."
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; anything else exposes "
                             "the test network to your LAN)")
    parser.add_argument("--workers-port", type=int, default=15100)
    parser.add_argument("--clients-port", type=int, default=15101)
    parser.add_argument("--http-port", type=int, default=15102,
                        help="the OpenAI-compatible endpoint")
    parser.add_argument("--worker-policy", default="any",
                        help="attestation required of workers: any, fake_tdx, tdx[:HASH,...]")
    parser.add_argument("--price-per-token", type=int, default=20, help="nanoTON")
    parser.add_argument("--worker-fee-per-token", type=int, default=10, help="nanoTON")
    parser.add_argument("--root-config-out", type=Path,
                        help="write the root config (fake-TON JSON) a worker should load here")
    parser.add_argument("--engine-url",
                        help="also run a worker serving this OpenAI-compatible engine "
                             "(token from COCOON_ENGINE_TOKEN)")
    parser.add_argument("--with-engine", action="store_true",
                        help="start the engine (bundled model) and a worker serving it")
    parser.add_argument("--model-path", type=Path, help="GGUF for --with-engine")
    parser.add_argument("--model", default="smollm2-135m@devnet:0",
                        help="the worker's Cocoon model name (name@commit:hash); clients ask "
                             "for the part before '@'")
    parser.add_argument("--max-active-requests", type=int, default=4)


async def _start_engine(args: argparse.Namespace) -> EngineSupervisor:
    model_path = args.model_path or bundled_model_path()
    supervisor = EngineSupervisor(EngineSettings(model_path=model_path, model_name=args.model,
                                                 parallel_sequences=args.max_active_requests))
    await supervisor.start()
    print(f"  loading {model_path.name} ...", flush=True)
    await supervisor.wait_ready(600)
    return supervisor


async def _attach_worker(devnet: Devnet, args: argparse.Namespace,
                         supervisor: EngineSupervisor | None) -> Worker:
    engine: EngineEndpoint | Callable[[], EngineEndpoint | None]
    if supervisor is not None:
        engine = lambda: supervisor.endpoint  # noqa: E731 (follows engine restarts)
    else:
        token = os.environ.get("COCOON_ENGINE_TOKEN", "")
        register_secret(token)
        engine = EngineEndpoint(args.engine_url, token)
    config = WorkerConfig(
        owner_address=friendly(DEVNET_WORKER_OWNER), model_name=args.model,
        engine=engine, root_config=devnet.root_config,
        root_contract_address=devnet.root_contract_address,
        max_active_requests=args.max_active_requests, proxies=(devnet.workers_endpoint,))
    worker = Worker(config, make_identity(None))
    if supervisor is not None:
        supervisor.on_status(lambda s: worker.set_engine_ready(s.state is EngineState.READY))
    await worker.start()
    return worker


def _print_welcome(devnet: Devnet, args: argparse.Namespace, serving: bool) -> None:
    settings = devnet.settings
    policy = settings.worker_policy.kind
    print(f"  workers connect to   {devnet.workers_endpoint} (attestation policy {policy})")
    print(f"  root contract        {devnet.root_contract_address}")
    if args.root_config_out:
        print(f"  root config written  {args.root_config_out}")
    print(f"  OpenAI endpoint      {devnet.http_url}/v1/chat/completions")
    print(f"  bearer token         {settings.http_token}")
    if serving:
        print(f"  serving model        {args.model.split('@', 1)[0]} (one local worker)")
    print("  stop with Ctrl+C\n", flush=True)


async def _main(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before anything says "stop with Ctrl+C"
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        settings = DevnetSettings(args.host, args.workers_port, args.clients_port,
                                  args.http_port, args.price_per_token,
                                  args.worker_fee_per_token,
                                  AttestationPolicy.parse(args.worker_policy))
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    register_secret(settings.http_token)
    try:
        devnet = await start_devnet(settings)
    except OSError as exc:
        log.error("cannot listen: %s. Choose other ports with --workers-port, --clients-port "
                  "and --http-port.", exc)
        return 1
    if args.root_config_out:
        try:
            devnet.write_root_config(args.root_config_out)
        except OSError as exc:
            log.error("cannot write the root config to %s: %s. Choose a writable path with "
                      "--root-config-out.", args.root_config_out, exc.strerror or exc)
            await devnet.stop()
            return 1
    print(BANNER)
    supervisor, worker = None, None
    try:
        if args.with_engine:
            supervisor = await _start_engine(args)
        if args.engine_url or supervisor is not None:
            worker = await _attach_worker(devnet, args, supervisor)
    except (EngineStartError, ModelFileMissing) as exc:
        log.error("the engine could not start: %s", exc)
        await devnet.stop()
        return 1
    _print_welcome(devnet, args, serving=worker is not None)
    await stop.wait()
    if worker is not None:
        await worker.stop()
    if supervisor is not None:
        await supervisor.stop()
    await devnet.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    setup_logging(None)
    return asyncio.run(_main(args))
