"""The engine's supervisor, in the app process (asyncio, no Qt): it owns the engine process.

States (`EngineState`): stopped -> loading -> ready; stopping on `stop()`; crashed when the process
exits on its own. After a crash the engine is restarted with exponential backoff; after
`max_quick_crashes` crashes that each came before it had run `stable_after_s`, or when the model
cannot be loaded at all, it gives up and says why. Readiness: the engine reports "ready" on its
control pipe, then the supervisor confirms it with an authenticated `GET /v1/engine/status`; while
ready it keeps probing that route (fresh `EngineStats` for listeners, and a hung engine is killed
and restarted). Every change goes to the `on_status` listeners as a frozen `EngineStatus`.

    supervisor = EngineSupervisor(settings)
    supervisor.on_status(lambda status: print(status.state, status.detail))
    await supervisor.start()
    endpoint = await supervisor.wait_ready(timeout_s=120)
    ...
    await supervisor.stop()   # drains, then the process exits and its memory is freed

While LOADING, `EngineStatus.load_fraction` follows the engine's load (0.0 to 1.0, from
llama.cpp's progress callback, over the control pipe); `cancel_load()` stops a load midway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cocoon_desktop.core.listeners import Listeners
from cocoon_desktop.core.tasks import TaskSet, cancel_and_wait, run_blocking
from cocoon_desktop.engine.host.launcher import EngineProcess, launch_engine
from cocoon_desktop.engine.host.sandbox import SandboxMode, plan_sandbox
from cocoon_desktop.engine.host.supervisor_text import crash_text, status_warnings
from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.engine.types import EngineEndpoint, EngineSettings, EngineState, SandboxStatus

if TYPE_CHECKING:  # the client (aiohttp) loads with the first engine, not with the app's window
    from cocoon_desktop.engine.host.client import EngineClient

log = logging.getLogger(__name__)
StatusListener = Callable[["EngineStatus"], None]
PROBE_FAILURES_BEFORE_KILL = 3


class EngineStartError(Exception):
    """The engine did not become ready; the text says why and what to do."""


@dataclass(frozen=True)
class RestartPolicy:
    first_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_quick_crashes: int = 5  # give up after this many crashes in a row
    stable_after_s: float = 60.0  # a crash after this long ready starts the count afresh

    def delay_s(self, crashes_in_a_row: int) -> float:
        return min(self.max_delay_s, self.first_delay_s * 2 ** max(0, crashes_in_a_row - 1))


@dataclass(frozen=True)
class EngineStatus:
    state: EngineState
    detail: str  # one sentence for the UI: what is going on and, if wrong, what to do
    endpoint: EngineEndpoint | None = None  # set while ready
    pid: int | None = None  # the engine process itself
    sandbox: SandboxStatus | None = None
    stats: EngineStats | None = None  # the last readiness/liveness probe
    warnings: tuple[str, ...] = ()  # e.g. "runs on the CPU although GPU layers were asked for"
    crashes_in_a_row: int = 0
    restart_in_s: float | None = None
    gave_up: bool = False
    # While LOADING: share of the model's weights in memory (0.0 to 1.0, rising); None before
    # the weights start loading (the process is starting) and in every other state.
    load_fraction: float | None = None
    # What the engine runs with, from its launch until it stops (what its attestation measures).
    settings: EngineSettings | None = None


class EngineSupervisor:
    def __init__(self, settings: EngineSettings, *, sandbox_mode: SandboxMode = "auto",
                 restart_policy: RestartPolicy | None = None, probe_interval_s: float = 2.0,
                 probe_timeout_s: float = 10.0, load_timeout_s: float = 600.0,
                 env_source: Mapping[str, str] | None = None) -> None:
        """`probe_*`: how often the running engine is asked for its status, and how long an
        answer may take (three failures in a row mean it hangs: it is killed and restarted).
        `env_source`: the environment the engine's is filtered from (default: os.environ)."""
        self.settings = settings
        self.sandbox_mode = sandbox_mode
        self.policy = restart_policy or RestartPolicy()
        self.probe_interval_s = probe_interval_s
        self.probe_timeout_s = probe_timeout_s
        self.load_timeout_s = load_timeout_s
        self._env_source = env_source
        self._status = EngineStatus(EngineState.STOPPED, "The engine is stopped.")
        self._statuses: Listeners[EngineStatus] = Listeners("engine status")
        self._changed = asyncio.Event()
        self._want_running = False
        self._wake = asyncio.Event()
        self._tasks = TaskSet("engine supervisor")  # the run loop, the watcher of a launch
        self._task: asyncio.Task[None] | None = None  # the run loop
        self._process: EngineProcess | None = None

    @property
    def status(self) -> EngineStatus:
        return self._status

    @property
    def endpoint(self) -> EngineEndpoint | None:
        return self._status.endpoint

    def on_status(self, listener: StatusListener) -> Callable[[], None]:
        """Call `listener` with every new status; returns a function that unsubscribes it."""
        return self._statuses.add(listener)

    async def start(self) -> None:
        """Start the engine (returns at once; follow `on_status` or await `wait_ready`)."""
        if self._task is not None and not self._task.done():
            return
        self._want_running = True
        self._wake.clear()
        self._task = self._tasks.spawn(self._run(), name="engine-supervisor")

    async def wait_ready(self, timeout_s: float | None = None) -> EngineEndpoint:
        """The endpoint once ready; `EngineStartError` if it gave up, stopped or took too long."""
        async def until_ready() -> EngineEndpoint:
            while True:
                status = self._status
                if status.state is EngineState.READY and status.endpoint is not None:
                    return status.endpoint
                if status.gave_up or not self._want_running:
                    raise EngineStartError(status.detail)
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(until_ready(), timeout_s)
        except TimeoutError:
            raise EngineStartError(f"The engine was not ready after {timeout_s:.0f} s: "
                                   f"{self._status.detail}") from None

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Let running requests finish (up to `drain_timeout_s`), then end the process."""
        await self._stop(drain_timeout_s, "Stopping the engine: letting running requests "
                         "finish.", "The engine is stopped.")

    async def cancel_load(self) -> bool:
        """Stop the engine while it loads (the Cancel beside a load's progress): the engine
        stops loading at the next tensor and exits; the status ends STOPPED saying the load was
        cancelled. False (and nothing done) when it is not loading."""
        status = self._status
        if status.state is not EngineState.LOADING:
            return False
        at = f" at {status.load_fraction:.0%}" if status.load_fraction is not None else ""
        name = self.settings.display_name
        log.info("cancelling the load of %s%s", name, at)
        await self._stop(0.0, f"Loading {name} was cancelled; stopping the engine.",
                         f"Loading {name} was cancelled{at}. Start the engine again (serve or "
                         "chat) when you want it.")
        return True

    async def _stop(self, drain_timeout_s: float, stopping: str, stopped: str) -> None:
        self._want_running = False
        self._wake.set()
        process = self._process
        if process is not None and process.running:
            self._publish(EngineState.STOPPING, stopping, endpoint=None)
            await process.stop(drain_timeout_s)
        if self._task is not None:
            await self._task
            self._task = None
        self._publish(EngineState.STOPPED, stopped, endpoint=None, pid=None, stats=None,
                      restart_in_s=None, settings=None)

    async def restart(self, settings: EngineSettings | None = None,
                      drain_timeout_s: float = 10.0) -> None:
        """Stop, optionally switch settings (another model, more GPU layers), start again."""
        await self.stop(drain_timeout_s)
        if settings is not None:
            self.settings = settings
        self._publish(EngineState.STOPPED, "Restarting the engine.", crashes_in_a_row=0,
                      gave_up=False)
        await self.start()

    def _publish(self, state: EngineState, detail: str, **changes: object) -> None:
        status = replace(self._status, state=state, detail=detail, **changes)  # type: ignore[arg-type]
        status = replace(status, warnings=status_warnings(self.settings, status.stats,
                                                          status.sandbox),
                         load_fraction=status.load_fraction if state is EngineState.LOADING
                         else None)
        if status == self._status:
            return
        self._status = status
        self._changed.set()
        self._statuses.emit(status)

    async def _run(self) -> None:
        crashes = 0
        while self._want_running:
            process = await self._launch()
            if process is None:
                return
            ready_s = await self._supervise(process)
            code = await process.wait()
            self._process = None
            if not self._want_running:
                return
            if process.load_error is not None:
                self._give_up(f"The engine could not load the model: {process.load_error} "
                              "Choose another model or fewer GPU layers, then start it again.")
                return
            crashes = 1 if ready_s >= self.policy.stable_after_s else crashes + 1
            reason = crash_text(code, process)
            if crashes >= self.policy.max_quick_crashes:
                self._give_up(f"The engine crashed {crashes} times in a row and was not "
                              f"restarted. Last crash: {reason} Check the engine log; try a "
                              "smaller model or fewer GPU layers, then start it again.")
                return
            delay_s = self.policy.delay_s(crashes)
            log.warning("engine crashed (%s); restarting in %.0f s", reason, delay_s)
            self._publish(EngineState.CRASHED, f"The engine crashed: {reason} Restarting in "
                          f"{delay_s:.0f} s.", endpoint=None, pid=None,
                          crashes_in_a_row=crashes, restart_in_s=delay_s)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay_s)

    async def _launch(self) -> EngineProcess | None:
        self._publish(EngineState.LOADING, "Starting the engine.", endpoint=None, pid=None,
                      stats=None, restart_in_s=None, gave_up=False, settings=self.settings)
        plan = await run_blocking(plan_sandbox, self.sandbox_mode)
        try:
            process = await launch_engine(self.settings, plan, env_source=self._env_source)
        except OSError as exc:
            self._give_up(f"The engine process could not be started: {exc}. Reinstall the app.")
            return None
        self._process = process
        self._publish(EngineState.LOADING, f"Loading {self.settings.display_name}.",
                      sandbox=plan.status)
        if not self._want_running:  # stop() came while we were launching
            await process.stop(0)
            return None
        return process

    def _give_up(self, detail: str) -> None:
        log.error("%s", detail)
        self._want_running = False
        self._publish(EngineState.CRASHED, detail, endpoint=None, pid=None, gave_up=True,
                      restart_in_s=None, settings=None)

    async def _supervise(self, process: EngineProcess) -> float:
        """Follow one process until it exits; return how long it was ready, in seconds."""
        ready_at: list[float] = []
        watcher = self._tasks.spawn(self._watch(process, ready_at), name="engine watcher")
        await process.process.wait()
        await cancel_and_wait(watcher, "engine supervisor")
        return time.monotonic() - ready_at[0] if ready_at else 0.0

    async def _watch(self, process: EngineProcess, ready_at: list[float]) -> None:
        from cocoon_desktop.engine.host.client import EngineClient

        async with EngineClient(process.endpoint) as client:
            try:
                stats = await asyncio.wait_for(self._until_ready(process, client),
                                               self.load_timeout_s)
            except TimeoutError:
                log.error("the engine did not load within %.0f s: killing it",
                          self.load_timeout_s)
                process.kill()
                return
            if stats is None or not self._want_running:  # stopped (or cancelled) meanwhile
                return
            ready_at.append(time.monotonic())
            self._publish(EngineState.READY, "The engine is ready.",
                          endpoint=process.endpoint, pid=process.engine_pid, stats=stats,
                          sandbox=stats.sandbox)
            await self._probe_while_running(process, client)

    async def _until_ready(self, process: EngineProcess, client: EngineClient
                           ) -> EngineStats | None:
        """Follow the engine's events until it says ready, then confirm over HTTP."""
        from cocoon_desktop.engine.host.client import EngineError

        while (event := await process.next_event()) is not None:
            if event.get("event") == "loading":
                self._publish(EngineState.LOADING, f"Loading {self.settings.display_name}.",
                              pid=process.engine_pid)
            elif event.get("event") == "progress":
                self._on_progress(event.get("fraction"))
            elif event.get("event") == "ready":
                for _ in range(PROBE_FAILURES_BEFORE_KILL):
                    with suppress(EngineError):
                        stats = await client.status(timeout_s=self.probe_timeout_s)
                        if stats.state == "ready":
                            return stats
                    await asyncio.sleep(0.2)
                log.error("the engine said it was ready but does not answer: killing it")
                process.kill()
                return None
            elif event.get("event") == "failed":
                return None
        return None

    def _on_progress(self, fraction: object) -> None:
        if self._status.state is not EngineState.LOADING or isinstance(fraction, bool) or \
                not isinstance(fraction, int | float):
            return
        previous = self._status.load_fraction or 0.0
        self._publish(EngineState.LOADING, self._status.detail,
                      load_fraction=max(previous, min(1.0, float(fraction))))

    async def _probe_while_running(self, process: EngineProcess, client: EngineClient) -> None:
        from cocoon_desktop.engine.host.client import EngineError

        failures = 0
        while process.running:
            await asyncio.sleep(self.probe_interval_s)
            try:
                stats = await client.status(timeout_s=self.probe_timeout_s)
            except EngineError as exc:
                if not process.running or self._status.state is not EngineState.READY:
                    return
                failures += 1
                log.warning("engine liveness probe failed (%d): %s", failures, exc)
                if failures >= PROBE_FAILURES_BEFORE_KILL:
                    log.error("the engine stopped answering: killing it so it restarts")
                    process.kill()
                    return
                continue
            failures = 0
            if self._status.state is EngineState.READY:
                self._publish(EngineState.READY, self._status.detail, stats=stats)
