"""The node's engine: its supervisor's life, and the door upstream's worker runner may use.

`EngineHost` is the Qt-free owner of the `EngineSupervisor`: started when the node serves (or
a chat or the user needs it), stopped to free VRAM (game mode), never restarted by itself after
a GPU fault (the node refuses to start it then). What it runs comes from the node's
`EnginePlanner`, asked at each start. The upstream gateway (opt-in, loopback, no token) forwards
upstream's runner to whichever engine runs now.

What runs the engine is an `EngineRunner`: the `EngineSupervisor` of a sandboxed process here,
or, when the node serves from the confidential VM, the VM's engine (`vm.vm_engine.VmEngine`).
The factory makes one when the engine must start; `use` puts a given one in place (the VM that
serves), `release` forgets it once it stopped (the next start asks the factory again).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from cocoon_desktop.engine.host.supervisor import EngineStartError, EngineStatus, EngineSupervisor
from cocoon_desktop.engine.types import EngineEndpoint, EngineSettings, EngineState

if TYPE_CHECKING:  # the gateway (aiohttp) loads when the config asks for it
    from cocoon_desktop.engine.host.gateway import UpstreamGateway

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 600.0
StatusListener = Callable[[EngineStatus], None]


class EngineRunner(Protocol):
    """What the engine host needs of whatever runs the engine."""

    @property
    def settings(self) -> EngineSettings: ...

    def on_status(self, listener: StatusListener) -> Callable[[], None]: ...

    async def start(self) -> None: ...

    async def wait_ready(self, timeout_s: float | None = None) -> EngineEndpoint: ...

    async def stop(self, drain_timeout_s: float = 10.0) -> None: ...

    async def cancel_load(self) -> bool: ...


SupervisorFactory = Callable[[EngineSettings, Mapping[str, str] | None], EngineRunner]


def default_supervisor(settings: EngineSettings, env: Mapping[str, str] | None
                       ) -> EngineSupervisor:
    return EngineSupervisor(settings, env_source=env)


class EngineHost:
    """Starts, follows and stops the engine process for the node."""

    def __init__(self, settings_provider: Callable[[], Awaitable[EngineSettings]],
                 on_status: StatusListener, *,
                 factory: SupervisorFactory = default_supervisor) -> None:
        self._settings_provider = settings_provider
        self._on_status = on_status
        self._factory = factory
        # The engine's environment: set once the node has chosen its GPU (only that one is
        # visible to the engine); None: the app's own.
        self.env: Mapping[str, str] | None = None
        self.supervisor: EngineRunner | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.gateway: UpstreamGateway | None = None  # upstream's runner's door (opt-in)
        self.problems: dict[str, str] = {}  # things that work badly but do not stop serving
        self.status = EngineStatus(EngineState.STOPPED, "The engine is stopped.")

    @property
    def ready(self) -> bool:
        return self.status.state is EngineState.READY and self.status.endpoint is not None

    @property
    def endpoint(self) -> EngineEndpoint | None:
        return self.status.endpoint if self.ready else None

    @property
    def settings(self) -> EngineSettings | None:
        return self.supervisor.settings if self.supervisor is not None else None

    @property
    def gateway_url(self) -> str | None:
        return self.gateway.url if self.gateway is not None else None

    async def start(self) -> None:
        """Start the engine (returns once it is launching; EngineStartError if it cannot)."""
        if self.supervisor is None:
            try:
                settings = await self._settings_provider()
            except EngineStartError as exc:
                self._publish(EngineStatus(EngineState.CRASHED, f"The engine cannot start: "
                                           f"{exc}", gave_up=True))
                raise
            self._follow(self._factory(settings, self.env))
        assert self.supervisor is not None
        await self.supervisor.start()

    def _follow(self, runner: EngineRunner) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.supervisor = runner
        self._unsubscribe = runner.on_status(self._publish)

    async def use(self, runner: EngineRunner) -> None:
        """Run the engine with `runner` from now on (not started yet): the engine running
        now stops first (its memory is free on return)."""
        await self.release()
        self._follow(runner)

    async def release(self, drain_timeout_s: float = 0.0) -> None:
        """Stop the engine and forget its runner: the next start makes a new one."""
        await self.stop(drain_timeout_s)
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.supervisor = self._unsubscribe = None

    async def ensure_running(self, timeout_s: float = READY_TIMEOUT_S) -> EngineEndpoint:
        """The endpoint of a ready engine, starting it first if needed (EngineStartError)."""
        endpoint = self.endpoint
        if endpoint is not None:
            return endpoint
        await self.start()
        assert self.supervisor is not None
        return await self.supervisor.wait_ready(timeout_s)

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Stop the process (its memory, VRAM included, is free on return)."""
        if self.supervisor is not None:
            await self.supervisor.stop(drain_timeout_s)

    async def cancel_load(self) -> bool:
        """Stop the engine while it loads its model (False when it is not loading)."""
        return self.supervisor is not None and await self.supervisor.cancel_load()

    async def reconfigure(self) -> None:
        """Apply new engine settings: stop, forget the settings, start again if it ran."""
        was_running = self.status.state in (EngineState.LOADING, EngineState.READY)
        await self.release(10.0)
        if was_running:
            await self.start()

    async def open_gateway(self, port: int) -> None:
        """The loopback gateway for upstream's worker runner, when the config asks for it
        (port 0: off); a port in use is a problem shown beside the status (serving goes on
        without it)."""
        if not port:
            return
        from cocoon_desktop.engine.host.gateway import GatewayError, UpstreamGateway

        gateway = UpstreamGateway(lambda: self.endpoint, port=port,
                                  why_not_ready=lambda: self.status.detail)
        try:
            await gateway.start()
        except GatewayError as exc:
            self.problems["gateway"] = str(exc)
            log.error("%s", exc)
            return
        self.gateway = gateway

    async def close(self, drain_timeout_s: float) -> None:
        """Close the gateway, then stop the engine."""
        if self.gateway is not None:
            await self.gateway.stop()
            self.gateway = None
        await self.stop(drain_timeout_s)

    def _publish(self, status: EngineStatus) -> None:
        self.status = status
        self._on_status(status)
