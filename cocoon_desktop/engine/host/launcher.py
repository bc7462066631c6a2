"""Starting one engine process: socket, token, sandbox, scrubbed environment, pipes.

The listening socket is bound here, on 127.0.0.1 and a free port, and passed to the child as an
open file descriptor (`pass_fds`), so the child may live in a network namespace of its own. The
per-launch bearer token and the settings go to the child over its stdin (never argv or the
environment, which other processes can read in /proc). The child is spawned, never forked from the
app (no copy of the app's memory, wallet state included, ends up in it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import sys
from collections import deque
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil

import cocoon_desktop
from cocoon_desktop.core.logs import register_secret
from cocoon_desktop.core.tasks import TaskSet, run_blocking
from cocoon_desktop.engine.control import LaunchConfig, parse_line, stop_command
from cocoon_desktop.engine.host.sandbox import (
    SandboxPlan,
    prepare_gpu_devices,
    runtime_read_only_paths,
    scrubbed_environment,
)
from cocoon_desktop.engine.types import EngineEndpoint, EngineSettings

log = logging.getLogger("cocoon_desktop.engine.process")
TERMINATE_GRACE_S = 3.0
KILL_WAIT_S = 5.0
OUTPUT_AFTER_EXIT_S = 2.0
STDERR_TAIL_LINES = 30


def engine_argv(listen_fd: int) -> list[str]:
    """The command that runs the engine entry point with this Python (or frozen app)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "engine", "--listen-fd", str(listen_fd)]
    return [sys.executable, "-m", "cocoon_desktop", "engine", "--listen-fd", str(listen_fd)]


def host_pid(wrapper_pid: int, reported_pid: int) -> int | None:
    """The engine's pid as this process sees it. In a pid namespace of its own the engine
    reports its inner pid (2, say), which names another process out here: find the descendant
    of the wrapper whose innermost pid (`NSpid` in /proc/PID/status) is the reported one; None
    when there is none (then only the wrapper is signalled, which takes the engine with it)."""
    if not Path("/proc/self/status").exists():  # no /proc (not Linux): no pid namespaces
        return reported_pid
    try:
        family = [psutil.Process(wrapper_pid), *psutil.Process(wrapper_pid).children(True)]
    except psutil.Error:
        return None
    for process in family:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            continue
        line = next((x for x in status.splitlines() if x.startswith("NSpid:")), "")
        if line.split()[-1:] == [str(reported_pid)]:
            return process.pid
    return None


class EngineProcess:
    """One running engine process: its endpoint, its events, and the means to stop it."""

    def __init__(self, process: asyncio.subprocess.Process, endpoint: EngineEndpoint,
                 plan: SandboxPlan) -> None:
        self.process = process
        self.endpoint = endpoint
        self.plan = plan
        self.engine_pid: int | None = None  # the engine itself (bwrap runs it as a child)
        self.load_error: str | None = None
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._readers = TaskSet("engine process output")
        self._readers.spawn(self._read_events(), name="engine events")
        self._readers.spawn(self._read_logs(), name="engine log")

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    async def next_event(self) -> dict[str, Any] | None:
        """The engine's next event line; None once its stdout is closed."""
        return await self._events.get()

    async def wait(self) -> int:
        """Wait for the exit (and up to 2 s for the last output lines, which a child that
        kept the pipes open could hold back); return the exit status."""
        code = await self.process.wait()
        if self._readers.running():
            await asyncio.wait(self._readers.running(), timeout=OUTPUT_AFTER_EXIT_S)
        await self._readers.close()
        return code

    async def stop(self, drain_timeout_s: float) -> None:
        """Ask for a clean stop, then terminate, then kill: the process is gone on return."""
        if not self.running:
            return
        with suppress(OSError, RuntimeError):
            assert self.process.stdin is not None
            self.process.stdin.write(stop_command(drain_timeout_s))
            await self.process.stdin.drain()
        if await self._exited_within(drain_timeout_s + TERMINATE_GRACE_S + 2.0):
            return
        log.warning("the engine did not stop in time: terminating it")
        self._signal(signal.SIGTERM)
        if await self._exited_within(TERMINATE_GRACE_S):
            return
        log.warning("the engine ignored SIGTERM: killing it")
        self.kill()
        await self._exited_within(KILL_WAIT_S)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        # The engine first (it may run under bwrap, whose death also kills it), then the wrapper.
        pids = [p for p in (self.engine_pid, self.process.pid) if p]
        for pid in dict.fromkeys(pids):
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)

    async def _exited_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(self.process.wait()), seconds)
        except TimeoutError:
            return False
        return True

    async def _read_events(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            event = parse_line(line)
            if event is None:
                log.info("engine: %s", line.decode(errors="replace").rstrip())
                continue
            if isinstance(event.get("pid"), int):
                self.engine_pid = host_pid(self.process.pid, event["pid"])
            if event.get("event") == "failed":
                self.load_error = str(event.get("error"))
            self._events.put_nowait(event)
        self._events.put_nowait(None)

    async def _read_logs(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            if text:
                self.stderr_tail.append(text)
                log.info("engine: %s", text)


async def launch_engine(settings: EngineSettings, plan: SandboxPlan, *,
                        env_source: Mapping[str, str] | None = None) -> EngineProcess:
    """Bind a loopback port, start the engine on it inside `plan`, send it its configuration."""
    if plan.kind == "bwrap":
        await run_blocking(prepare_gpu_devices)
    token = secrets.token_urlsafe(32)
    register_secret(token)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        package_root = Path(cocoon_desktop.__file__).resolve().parent.parent
        source = os.environ if env_source is None else env_source
        command = plan.wrap(engine_argv(listener.fileno()),
                            read_only_paths=runtime_read_only_paths(
                                settings.model_path, source,
                                draft_model_path=settings.draft_model_path),
                            home=source.get("HOME"))
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, pass_fds=(listener.fileno(),),
            env=scrubbed_environment(source, python_path=package_root))
    finally:
        listener.close()  # the child holds its own copy now
    engine = EngineProcess(process, EngineEndpoint(f"http://127.0.0.1:{port}", token), plan)
    assert process.stdin is not None
    process.stdin.write(LaunchConfig(token, settings, plan.status).to_line())
    with suppress(ConnectionError):
        await process.stdin.drain()
    return engine
