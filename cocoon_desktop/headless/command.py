"""`cocoon-desktop serve` (also `cocoon-desktop --headless`): a node without a GUI, for rigs.

    cocoon-desktop serve --config rig.toml [--instance N] [--upstream-gateway PORT]
    cocoon-desktop serve --import-worker-conf worker.conf [--instance N] [--config OUT]
    cocoon-desktop serve --check [--config rig.toml]
    cocoon-desktop serve --example-config > rig.toml

Without --config it reads the instance's `rig.toml` (in its config folder) when there is one,
else the desktop app's own settings. It logs plain lines to stderr (journald-aware), tells
systemd when it is ready (Type=notify), and SIGTERM / SIGINT drain running jobs (bounded by
`drain_timeout_s`; a second signal stops waiting) and stop the engine.

Exit codes: 0 stopped on request (or a check/import that succeeded); 1 an unexpected error
(a bug: the log has the traceback); 2 bad input (the rig file, worker.conf or an argument,
each problem named); 3 the node needs the user (no usable keyring, no node wallet key, a
model that cannot load, a GPU fault, …: the last log lines say what to do).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
from pathlib import Path

from cocoon_desktop.core.tasks import TaskSet, cancel_and_wait
from cocoon_desktop.headless.importer import ImportReport, import_problem, import_worker_conf
from cocoon_desktop.headless.journal import StatusLogger, sd_notify, setup_headless_logging
from cocoon_desktop.headless.rig_file import RigFileError, load_rig_file
from cocoon_desktop.headless.rig_schema import example_rig_text
from cocoon_desktop.headless.worker_conf import WorkerConfError
from cocoon_desktop.node.config import MAX_INSTANCE, NodeConfig, from_app_settings, node_home
from cocoon_desktop.node.node import Node
from cocoon_desktop.settings import load_settings
from cocoon_desktop.wallet.errors import WalletError
from cocoon_desktop.wallet.secret_store import SecretStore

log = logging.getLogger("cocoon_desktop.serve")
EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_NEEDS_USER = 0, 1, 2, 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Serve Cocoon jobs without a GUI (rigs, systemd)."
    parser.add_argument("--config", type=Path, metavar="RIG.toml",
                        help="the rig file (default: rig.toml in the instance's config folder, "
                             "else the desktop app's settings); with --import-worker-conf, "
                             "where to write it")
    parser.add_argument("--instance", type=int, metavar="N",
                        help="upstream's instance number: stats port 12000 + 10 x N, its own "
                             "folder, keyring and GPU (overrides the rig file)")
    parser.add_argument("--import-worker-conf", type=Path, metavar="WORKER.conf",
                        help="import an upstream worker.conf (its key into the keyring), "
                             "write the rig file, then exit")
    parser.add_argument("--keep-worker-conf", action="store_true",
                        help="with --import-worker-conf: leave the key in worker.conf (to "
                             "import the same file for another instance first)")
    parser.add_argument("--upstream-gateway", type=int, metavar="PORT",
                        help="also open a gateway on 127.0.0.1:PORT that forwards requests "
                             "WITHOUT a token to the engine, for upstream's worker runner "
                             "(forward_requests_to; its default is 8000); anything on this "
                             "machine can then use the engine. 0: off (overrides "
                             "engine.upstream_gateway_port)")
    parser.add_argument("--check", action="store_true",
                        help="check the configuration, show what would run, then exit")
    parser.add_argument("--example-config", action="store_true",
                        help="print a rig file listing every key with its default, then exit")
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"])


def run(args: argparse.Namespace) -> int:
    if args.instance is not None and not 0 <= args.instance <= MAX_INSTANCE:
        print(f"--instance must be between 0 and {MAX_INSTANCE}.", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.upstream_gateway is not None and not 0 <= args.upstream_gateway <= 65535:
        print("--upstream-gateway must be a port from 1 to 65535 (0 turns it off).",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.example_config:
        print(example_rig_text(), end="")
        return EXIT_OK
    level = getattr(logging, args.log_level.upper())
    setup_headless_logging(None, level)
    if args.import_worker_conf is not None:
        return _import(args)
    try:
        config = resolve_config(args.config, args.instance)
    except RigFileError as exc:
        log.error("%s", exc)
        return EXIT_BAD_INPUT
    if args.upstream_gateway is not None:
        config = dataclasses.replace(config, upstream_gateway_port=args.upstream_gateway)
    home = node_home(config.instance, config.home)
    if args.check:
        print(describe_config(config))
        return EXIT_OK
    setup_headless_logging(home.paths.log_dir, level)
    try:
        return asyncio.run(serve(config))
    except Exception:
        log.exception("the node stopped on an unexpected error")
        return EXIT_ERROR


def resolve_config(path: Path | None, instance: int | None) -> NodeConfig:
    """The rig file given, else the instance's rig.toml, else the desktop app's settings."""
    if path is not None:
        return load_rig_file(path, instance)
    number = instance or 0
    default = node_home(number).paths.config_dir / "rig.toml"
    if default.exists():
        return load_rig_file(default, instance)
    loaded = load_settings(node_home(number).paths.settings_file)
    for warning in loaded.warnings:
        log.warning("%s", warning)
    return dataclasses.replace(from_app_settings(loaded.settings, number), headless=True)


def describe_config(config: NodeConfig) -> str:
    home = node_home(config.instance, config.home)
    lines = [f"instance {config.instance} on {config.network.value}",
             f"  data folder:   {home.paths.data_dir}",
             f"  logs:          {home.paths.log_dir}",
             f"  keyring:       service {home.keyring_service!r}",
             f"  stats:         {config.stats_listen}:{config.resolved_stats_port}",
             f"  model:         {config.model_path or 'the bundled model'}",
             f"  gpu:           {config.gpu or 'automatic'}",
             f"  serve from:    {_serve_from_line(config)}",
             f"  upstream gateway: {_gateway_line(config.upstream_gateway_port)}",
             f"  keyring now:   {_keyring_state(home.keyring_service, config.headless)}"]
    if config.root_contract_address:
        lines.append(f"  root contract: {config.root_contract_address}")
    if config.root_config_file:
        lines.append(f"  root config:   {config.root_config_file}")
    return "\n".join(lines)


def _serve_from_line(config: NodeConfig) -> str:
    if not config.serves_from_vm:
        return "this computer's sandbox"
    gpu = ("may move to vfio-pci (vm.gpu_passthrough)" if config.vm_gpu_passthrough
           else "stays here (a node with a GPU refuses the VM)")
    return (f"a confidential VM, mode {config.vm_mode}, {config.vm_memory_mib} MiB, "
            f"{config.vm_cpus} CPUs; GPU {gpu}")


def _gateway_line(port: int) -> str:
    if not port:
        return "off"
    return (f"127.0.0.1:{port}, WITHOUT a token: anything on this machine can use the engine "
            "through it")


def _keyring_state(service: str, headless: bool) -> str:
    status = SecretStore(service=service, prompt_to_unlock=not headless).status()
    return f"usable ({status.backend_name})" if status.usable else f"NOT usable: {status.problem}"


async def serve(config: NodeConfig) -> int:
    """Run a node until a signal (exit 0) or a state that needs the user (exit 3)."""
    node = Node(config)
    stop = asyncio.Event()
    needs_user = asyncio.Event()
    node.status_changed.add(StatusLogger(log))
    node.status_changed.add(lambda status: needs_user.set() if status.needs_user else None)
    loop = asyncio.get_running_loop()

    def on_signal(name: str) -> None:
        if stop.is_set():
            log.warning("%s again: stopping without waiting for running jobs", name)
            node.hurry()
            return
        log.info("%s: finishing running jobs, then stopping", name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)
    await node.open()
    tasks = TaskSet("serve")
    serving = tasks.spawn(node.start_serving(), name="start serving")
    sd_notify("READY=1")
    waits = [tasks.spawn(stop.wait(), name="signal"),
             tasks.spawn(needs_user.wait(), name="needs the user")]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    await cancel_and_wait(waits, "serve")
    code = EXIT_NEEDS_USER if needs_user.is_set() and not stop.is_set() else EXIT_OK
    sd_notify("STOPPING=1")
    finished = await node.close()
    await asyncio.wait([serving])  # ends once the node is closed; a failure was logged
    await tasks.close()
    log.info("stopped%s", "" if finished else " (some running jobs were cut off)")
    return code


def _import(args: argparse.Namespace) -> int:
    source: Path = args.import_worker_conf
    service = node_home(args.instance or 0).keyring_service
    try:
        report = import_worker_conf(source, args.instance, args.config, args.keep_worker_conf)
    except WorkerConfError as exc:
        log.error("%s", exc.problem)
        return EXIT_BAD_INPUT
    except (WalletError, OSError) as exc:
        problem = import_problem(exc, service)
        log.error("%s", problem.what)
        log.error("what to do: %s", problem.what_to_do)
        return EXIT_BAD_INPUT if isinstance(exc, ValueError) else EXIT_NEEDS_USER
    print(import_summary(report))
    return EXIT_OK


def import_summary(report: ImportReport) -> str:
    lines = [f"Imported {report.source} into {report.rig_file}."]
    if report.key_imported:
        lines.append(f"The node wallet key is now in the OS keyring (service "
                     f"{report.home.keyring_service!r}).")
    if report.key_removed_from_worker_conf:
        lines.append("Its value in worker.conf was replaced by [PRIVATE]. Back the key up "
                     "with `cocoon-desktop wallet node-key export` (same COCOON_HOME).")
    if report.node_wallet_address:
        lines.append(f"Node wallet (payouts are sent from it; keep a little over 2 TON in it "
                     f"for their gas): {report.node_wallet_address}")
    if report.kept_aside is not None:
        lines.append(f"The previous rig file was kept as {report.kept_aside}.")
    for key, why in report.conf.ignored:
        lines.append(f"ignored `{key}`: {why}")
    lines += report.notes
    lines.append(f"Then start serving: cocoon-desktop serve --config {report.rig_file}")
    return "\n".join(lines)
