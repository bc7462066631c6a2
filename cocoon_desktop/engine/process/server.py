"""`cocoon-desktop-cli engine`: the engine process, started by the supervisor (never by hand).

It receives an already-listening loopback socket (`--listen-fd`, created by the supervisor in the
app's network namespace, so the sandboxed engine needs no network) and its `LaunchConfig` (token,
settings, sandbox) as the first line of stdin. It serves the HTTP API at once (answering 503
"loading" until the model is in memory), loads the model, and reports its progress (the load's
included) as JSON lines on stdout (see `control.py`). It stops on a `stop` command, on stdin
closing, or on SIGTERM/SIGINT: a load in progress is cancelled, running requests get
`drain_timeout_s` to finish, the rest are cancelled, the model is freed and the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from contextlib import suppress

from aiohttp import web

from cocoon_desktop.core.logs import RedactingFilter, register_secret
from cocoon_desktop.core.tasks import TaskSet, cancel_and_wait
from cocoon_desktop.engine.control import STOP_COMMAND, LaunchConfig, event_line, parse_line
from cocoon_desktop.engine.process.http_api import build_app
from cocoon_desktop.engine.process.isolation import observed_sandbox
from cocoon_desktop.engine.process.service import EngineService, ServiceState

log = logging.getLogger(__name__)
EXIT_LOAD_FAILED = 3
EXIT_BAD_LAUNCH = 2
LOAD_CANCEL_WAIT_S = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Run the inference engine process. Internal: the app starts it and "
                          "sends its configuration on stdin.")
    parser.add_argument("--listen-fd", type=int, required=True,
                        help="file descriptor of a listening TCP socket to serve on")


def run(args: argparse.Namespace) -> int:
    _setup_logging()
    try:
        config = LaunchConfig.from_line(_read_first_line(sys.stdin.fileno()))
        listener = socket.socket(fileno=args.listen_fd)
    except (ValueError, OSError) as exc:
        log.error("cannot start the engine: %s", exc)
        return EXIT_BAD_LAUNCH
    register_secret(config.token)
    return asyncio.run(_serve(config, listener))


def _read_first_line(fd: int) -> bytes:
    """Read one line from `fd` without buffering past it (later lines are commands)."""
    line = bytearray()
    while (byte := os.read(fd, 1)) and byte != b"\n":
        line += byte
    return bytes(line)


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def _emit(event: str, **fields: object) -> None:
    with suppress(OSError):  # the supervisor is gone: nobody to tell
        sys.stdout.write(event_line(event, **fields))
        sys.stdout.flush()


class _StopRequest:
    """Set by a `stop` command, the end of stdin, or a signal; remembers the drain time."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.drain_timeout_s = 0.0

    def set(self, drain_timeout_s: float = 0.0) -> None:
        if not self.event.is_set():
            self.drain_timeout_s = max(0.0, drain_timeout_s)
            self.event.set()


async def _serve(config: LaunchConfig, listener: socket.socket) -> int:
    loop = asyncio.get_running_loop()
    stop = _StopRequest()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tasks = TaskSet("engine process")
    tasks.spawn(_read_commands(stop), name="supervisor commands")
    try:
        return await _run_service(config, listener, stop, tasks)
    finally:
        await tasks.close()


async def _run_service(config: LaunchConfig, listener: socket.socket, stop: _StopRequest,
                       tasks: TaskSet) -> int:
    service = EngineService(config.settings, observed_sandbox(config.sandbox),
                            on_load_progress=_emit_progress)
    runner = web.AppRunner(build_app(service, config.token), handler_cancellation=True,
                           access_log=None)
    await runner.setup()
    listener.setblocking(False)
    await web.SockSite(runner, listener).start()
    _emit("loading", pid=os.getpid())
    await _load_unless_stopped(service, stop, tasks)
    if service.state is ServiceState.FAILED:
        log.error("the model could not be loaded: %s", service.detail)
        _emit("failed", error=service.detail)
        await runner.cleanup()
        return EXIT_LOAD_FAILED
    if service.state is ServiceState.READY and not stop.event.is_set():
        _emit("ready", pid=os.getpid())
        log.info("engine ready: %s, %d parallel sequences", config.settings.model_name,
                 service.stats().capacity)
        await stop.event.wait()
        log.info("stopping (letting running requests finish for up to %.0f s)",
                 stop.drain_timeout_s)
    await service.shutdown(stop.drain_timeout_s)
    await runner.cleanup()
    _emit("stopped")
    return 0


async def _load_unless_stopped(service: EngineService, stop: _StopRequest,
                               tasks: TaskSet) -> None:
    """Load the model; a stop meanwhile cancels the load at llama.cpp's next tensor (or, if
    llama.cpp is busy elsewhere, such as creating a context, exits the process)."""
    load_task = tasks.spawn(service.load(), name="model load")
    stop_task = tasks.spawn(stop.event.wait(), name="stop while loading")
    await asyncio.wait({load_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    await cancel_and_wait(stop_task, "engine process")
    if load_task.done():
        return
    log.info("stop requested while loading the model: cancelling the load")
    service.cancel_load()
    done, _ = await asyncio.wait({load_task}, timeout=LOAD_CANCEL_WAIT_S)
    if not done:
        log.info("the load did not stop within %.0f s: exiting", LOAD_CANCEL_WAIT_S)
        _emit("stopped")
        os._exit(0)  # exiting frees everything llama.cpp holds
    if service.state is ServiceState.STOPPING:
        log.info("the model load was cancelled: %s", service.detail)


def _emit_progress(fraction: float) -> None:
    _emit("progress", fraction=round(fraction, 4))


async def _read_commands(stop: _StopRequest) -> None:
    """Follow the supervisor's commands on stdin; its end means the app is gone: stop now."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = parse_line(line) or {}
        if command.get("command") == STOP_COMMAND:
            drain = command.get("drain_timeout_s", 0.0)
            stop.set(float(drain) if isinstance(drain, int | float) else 0.0)
    stop.set()
