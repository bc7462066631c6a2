"""The guest worker's and engine's state as the agent reports it (a `status` message), and back
on the host: the worker's status, upstream's counters, what each proxy owes, the engine's
stats. Figures only: no prompt, no answer, no token.

The agent sends one whenever something changed (before each worker event, after each command)
and every few seconds; it is the latest state, so it is not kept for a resend like an event.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.network.worker.served import ServedWorker
from cocoon_desktop.network.worker.types import ProxyStatus, WorkerStatus

Message = dict[str, Any]
ACCOUNT_FIELDS = ("proxy_key", "proxy_sc_address", "worker_sc_address", "tokens_committed",
                  "db_tokens", "max_known")


class GuestStateError(ValueError):
    """A status message is malformed."""


@dataclass(frozen=True)
class AccountView:
    """What one proxy owes the guest worker, as the guest last reported it."""

    proxy_key: str
    proxy_sc_address: str
    worker_sc_address: str
    tokens_committed: int
    db_tokens: int
    max_known: int


@dataclass(frozen=True)
class CountersView:
    """Upstream's counters as the guest last reported them (`[total, 1s, … 1d]` each)."""

    counters: dict[str, list[float]] = field(default_factory=dict)

    def total(self, name: str) -> float:
        values = self.counters.get(name)
        return values[0] if values else 0.0

    def as_json(self) -> dict[str, list[float]]:
        return {name: list(values) for name, values in self.counters.items()}


@dataclass(frozen=True)
class GuestState:
    worker: WorkerStatus | None
    counters: CountersView
    accounts: dict[str, AccountView]
    engine_stats: EngineStats | None


def encode_state(worker: ServedWorker | None, engine_stats: EngineStats | None) -> Message:
    """The `status` message's fields."""
    status = worker.status() if worker is not None else None
    return {
        "worker": None if status is None else {
            **asdict(status), "proxies": [_proxy_json(p) for p in status.proxies]},
        "counters": worker.stats.as_json() if worker is not None else {},
        "accounts": [{name: getattr(a, name) for name in ACCOUNT_FIELDS}
                     for a in (worker.accounts.values() if worker is not None else ())],
        "engine_stats": engine_stats.to_json() if engine_stats is not None else None,
    }


def _proxy_json(proxy: ProxyStatus) -> dict[str, Any]:
    doc = asdict(proxy)
    doc["connected_since"] = (proxy.connected_since.isoformat()
                              if proxy.connected_since is not None else None)
    return doc


def decode_state(message: Message) -> GuestState:
    try:
        worker = message.get("worker")
        stats = message.get("engine_stats")
        return GuestState(
            worker=None if worker is None else _worker_status(worker),
            counters=CountersView({str(k): [float(x) for x in v]
                                   for k, v in (message.get("counters") or {}).items()}),
            accounts={a["proxy_sc_address"]: AccountView(**{n: a[n] for n in ACCOUNT_FIELDS})
                      for a in message.get("accounts") or ()},
            engine_stats=None if stats is None else EngineStats.from_json(stats))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GuestStateError(f"The guest's status message is malformed ({exc}).") from None


def _worker_status(doc: dict[str, Any]) -> WorkerStatus:
    proxies = tuple(ProxyStatus(**{
        **p, "connected_since": None if p["connected_since"] is None
        else datetime.fromisoformat(p["connected_since"])}) for p in doc["proxies"])
    return WorkerStatus(bool(doc["enabled"]), bool(doc["draining"]), int(doc["coefficient"]),
                        int(doc["active_requests"]), int(doc["max_active_requests"]), proxies)
