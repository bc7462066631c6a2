"""The worker a node serves with, its stats surface, and the run file that says where it answers.

While serving, `opened` is the worker for the chosen network (`worker_open`); the stats surface
(upstream's `/jsonstats`, `/metrics` with the node's gauges, `/nodestatus`) listens beside it.
The run file (`node-run.json`, 0600) is rewritten whenever one of them comes or goes.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.node.config import NodeConfig, NodeHome
from cocoon_desktop.node.metrics import node_metrics, status_json, vm_json
from cocoon_desktop.node.runtime import write_run_file
from cocoon_desktop.node.status import NodeProblem, NodeStatus

if TYPE_CHECKING:  # the worker's network stack loads when serving starts, not with the app
    from cocoon_desktop.network.devnet.load import DevnetEndpoint
    from cocoon_desktop.network.worker.http_stats import PayoutHook
    from cocoon_desktop.network.worker.types import WorkerEvent
    from cocoon_desktop.node.stats_surface import StatsSurface
    from cocoon_desktop.node.worker_open import OpenedWorker

log = logging.getLogger(__name__)
WorkerListener = Callable[["WorkerEvent"], None]


class WorkerHost:
    def __init__(self, home: NodeHome, config: Callable[[], NodeConfig],
                 gateway_url: Callable[[], str | None]) -> None:
        self.home = home
        self._config = config
        self._gateway_url = gateway_url
        self.opened: OpenedWorker | None = None
        self.stats: StatsSurface | None = None
        self.problems: dict[str, str] = {}  # things that work badly but do not stop serving
        self._stats_token: str | None = None

    @property
    def label(self) -> str:
        return self.opened.label if self.opened is not None else ""

    @property
    def devnet_endpoint(self) -> DevnetEndpoint | None:
        """The in-app devnet's OpenAI endpoint while serving on it (any OpenAI client can use
        it, and the app's own test jobs do)."""
        devnet = self.opened.devnet if self.opened is not None else None
        if devnet is None:
            return None
        from cocoon_desktop.network.devnet.load import DevnetEndpoint

        return DevnetEndpoint(devnet.http_url, devnet.settings.http_token)

    @property
    def stats_url(self) -> str:
        return self.stats.url if self.stats is not None else ""

    async def load_stats_token(self) -> NodeProblem | None:
        """Read the stats token (the operator's file, or a fresh one); the problem when the
        file cannot be used (the token read before, if any, stays)."""
        from cocoon_desktop.node.stats_surface import StatsTokenError, load_stats_token

        try:
            self._stats_token = await run_blocking(load_stats_token,
                                                   self._config().stats_token_file)
        except StatsTokenError as exc:
            return exc.problem
        return None

    def apply_pause(self, take_jobs: bool) -> None:
        """Let the worker take new jobs, or drain it (jobs in flight finish)."""
        if self.opened is None:
            return
        worker = self.opened.worker
        state = worker.status()
        if take_jobs and (not state.enabled or state.draining):
            worker.enable()
        elif not take_jobs and state.enabled:
            worker.disable()

    async def connect(self, opened: OpenedWorker, on_event: WorkerListener, engine_ready: bool,
                      take_jobs: bool) -> None:
        """Serve with `opened`: follow its events and start it. ValueError when it cannot
        start (it is closed again)."""
        self.opened = opened
        opened.worker.add_listener(on_event)
        opened.worker.set_engine_ready(engine_ready)
        self.apply_pause(take_jobs)
        try:
            await opened.worker.start()
        except ValueError:
            self.opened = None
            await opened.close()
            raise

    def take(self) -> OpenedWorker | None:
        """Hand the serving worker over for draining and closing; the host serves none."""
        opened, self.opened = self.opened, None
        return opened

    async def close_worker(self, opened: OpenedWorker, on_event: WorkerListener) -> None:
        await self.stop_stats()
        opened.worker.remove_listener(on_event)
        await opened.close()
        self.write_run_file()

    async def start_stats(self, payout_hook: PayoutHook | None,
                          status: Callable[[], NodeStatus]) -> None:
        """Listen for the stats pages beside the worker; a port in use is a problem."""
        if self._stats_token is None or self.stats is not None or self.opened is None:
            return
        from cocoon_desktop.node.stats_surface import StatsSurface

        c = self._config()
        tls = ((c.stats_tls_certificate, c.stats_tls_key)
               if c.stats_tls_certificate and c.stats_tls_key else None)
        surface = StatsSurface(c.stats_listen, c.resolved_stats_port, self._stats_token,
                               tls=tls, accept_plain_http_risk=c.stats_accept_plain_http_risk)
        try:
            url = await surface.start(self.opened.worker, payout_hook,
                                      lambda: node_metrics(status()),
                                      lambda: status_json(status()),
                                      lambda: vm_json(status()))
        except PermissionError as exc:  # a plain non-loopback bind the operator did not accept
            self.problems["stats"] = f"The stats page is off: {exc}."
            log.error("%s", self.problems["stats"])
            return
        except OSError as exc:
            self.problems["stats"] = (
                f"The stats page cannot listen on {c.stats_listen}:{c.resolved_stats_port} "
                f"({exc.strerror or exc}): is another worker using instance number "
                f"{c.instance}? Give each worker its own --instance.")
            log.error("%s", self.problems["stats"])
            return
        self.problems.pop("stats", None)
        self.stats = surface
        log.info("stats and /metrics on %s (token in %s)", url, self.home.run_file)

    async def stop_stats(self) -> None:
        if self.stats is not None:
            await self.stats.stop()
            self.stats = None

    def write_run_file(self) -> None:
        """Where this instance answers, for the operator and local tools (0600)."""
        c = self._config()
        data: dict[str, Any] = {
            "pid": os.getpid(), "instance": c.instance,
            "network": c.network.value, "data_dir": str(self.home.paths.data_dir),
            "stats_url": self.stats.url if self.stats else None,
            "stats_token": self._stats_token if self.stats else None,
            "upstream_gateway_url": self._gateway_url(),
        }
        devnet = self.opened.devnet if self.opened is not None else None
        if devnet is not None:
            data["devnet_client_url"] = devnet.http_url
            data["devnet_client_token"] = devnet.settings.http_token
        try:
            write_run_file(self.home.run_file, data)
        except OSError as exc:
            log.warning("the run file %s could not be written: %s", self.home.run_file, exc)

    def remove_run_file(self) -> None:
        with contextlib.suppress(OSError):
            self.home.run_file.unlink(missing_ok=True)
