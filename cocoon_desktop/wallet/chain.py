"""Reading and writing the TON chain through liteservers, as a state the UI can show.

`ChainService` builds pytoniq's `LiteBalancer` lazily, on the first call that needs the chain,
from the user's config file or ton.org's global config (see chain_config). Every call has a
timeout and never raises for network trouble: it returns the fresh value, or the last known
value with its age, together with the service state (online, unreachable, offline). After a
failure, reads wait out an exponential backoff (2 s doubling to 5 min, with jitter) instead of
hammering dead servers; `retry_now()` (the UI's Retry button) and sends skip the wait.
pytoniq's lite client is imported then too, not with this module (the app's first window
does not need it).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cocoon_desktop.core.listeners import Listeners
from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.chain_config import ChainConfigError, obtain_config
from cocoon_desktop.wallet.chain_types import (
    AccountReading,
    AccountSnapshot,
    AccountStatus,
    ChainState,
    ChainStatus,
    LastKnownCache,
    SendOutcome,
    TransactionsReading,
)
from cocoon_desktop.wallet.contracts import WalletVersion, seqno_from_data
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.transactions import parse_transaction

if TYPE_CHECKING:
    from pytoniq import LiteBalancer

log = logging.getLogger(__name__)
T = TypeVar("T")
BalancerFactory = Callable[[dict[str, Any], float], "LiteBalancer"]
Listener = Callable[[ChainState], None]


def default_balancer_factory(config: dict[str, Any], timeout_s: float) -> LiteBalancer:
    """trust_level 1: answers are checked against block proofs; no key-block sync on start."""
    from pytoniq import LiteBalancer

    return LiteBalancer.from_config(config, trust_level=1, timeout=math.ceil(timeout_s))


class _InBackoff(Exception):
    pass


class _NoPeers(Exception):
    pass


class ChainService:
    """One network's liteserver connection, its state, and the last known values."""

    def __init__(
        self,
        network: TonNetwork,
        *,
        cache_dir: Path,
        config_file: Path | None = None,
        config_url: str | None = None,
        request_timeout_s: float = 10.0,
        connect_timeout_s: float = 20.0,
        backoff_initial_s: float = 2.0,
        backoff_max_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        balancer_factory: BalancerFactory = default_balancer_factory,
    ) -> None:
        self.network = network
        self._cache_dir = cache_dir
        self._config_file = config_file
        self._config_url = config_url
        self._request_timeout_s = request_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._clock = clock
        self._rng = rng or random.Random()
        self._factory = balancer_factory
        self._balancer: LiteBalancer | None = None
        self._lock = asyncio.Lock()
        self._states: Listeners[ChainState] = Listeners("chain states")
        self._last = LastKnownCache(cache_dir / f"chain-{network.value}.json")
        self._state = ChainState(ChainStatus.IDLE, network, "Not connected yet.")
        self.connect_attempts = 0
        self.last_refusal: str | None = None  # a liteserver's error answer to the last send

    # -- state -----------------------------------------------------------------------------
    @property
    def state(self) -> ChainState:
        return self._state

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(state)` on every state change (from the event loop's thread);
        returns the function that unsubscribes it."""
        return self._states.add(listener)

    def retry_now(self) -> None:
        """Forget the backoff: the next call tries the liteservers at once."""
        self._set_state(replace(self._state, next_retry_at=None))

    # -- reads -----------------------------------------------------------------------------
    async def read_account(
        self, address: TonAddress, version: WalletVersion | None = None
    ) -> AccountReading:
        """Balance, status and (for a known wallet version) seqno; or the last known ones."""
        key = LastKnownCache.key(self.network, address)
        result = await self._call(lambda c: c.raw_get_account_state(address.to_pytoniq()))
        if result is None:
            return AccountReading(self._last.account(key), False, self._state)
        account, shard_account = result
        snapshot = snapshot_from_account(
            address, self.network, account, shard_account, version, self._clock()
        )
        self._last.put_account(key, snapshot)
        cell = shard_account.serialize() if shard_account is not None else None
        return AccountReading(snapshot, True, self._state, cell)

    async def read_transactions(
        self,
        address: TonAddress,
        limit: int = 20,
        known_worker_contracts: frozenset[TonAddress] = frozenset(),
    ) -> TransactionsReading:
        """The latest `limit` transactions, newest first, payouts labelled."""
        key = LastKnownCache.key(self.network, address)
        txs = await self._call(lambda c: c.get_transactions(address.to_pytoniq(), count=limit))
        if txs is None:
            cached = self._last.transactions(key)
            at, records = cached if cached else (None, ())
            return TransactionsReading(records, at, False, self._state)
        records = tuple(parse_transaction(tx, known_worker_contracts) for tx in txs)
        fetched_at = self._clock()
        self._last.put_transactions(key, fetched_at, records)
        return TransactionsReading(records, fetched_at, True, self._state)

    # -- writes ----------------------------------------------------------------------------
    async def send(self, boc: bytes) -> SendOutcome:
        """Hand a signed external message to the liteservers (a user action: no backoff)."""
        self.last_refusal = None
        accepted = await self._call(lambda c: c.raw_send_message(boc), ignore_backoff=True)
        if accepted is None and self.last_refusal is not None:
            return SendOutcome(
                False,
                f"The network refused the transfer ({self.last_refusal}). Nothing was sent; "
                "refresh the wallet and try again.",
                self._state,
            )
        if accepted is None:
            return SendOutcome(
                False,
                "Not sent: the TON liteservers cannot be reached. Nothing left your wallet; "
                "try again when the connection is back.",
                self._state,
            )
        return SendOutcome(
            True, "Sent. It appears on the chain within a few seconds.", self._state
        )

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
        self._set_state(replace(self._state, status=ChainStatus.IDLE, message="Disconnected."))

    # -- internals -------------------------------------------------------------------------
    async def _call(
        self, request: Callable[[LiteBalancer], Awaitable[T]], *, ignore_backoff: bool = False
    ) -> T | None:
        from pytoniq.liteclient.client import LiteServerError

        try:
            client = await self._connected(ignore_backoff)
            result = await asyncio.wait_for(request(client), self._request_timeout_s)
        except _InBackoff:
            return None
        except LiteServerError as exc:  # the liteserver answered: reachable, but it refused
            self.last_refusal = str(exc.message)[:200]
            log.info("a liteserver refused a request: %s", self.last_refusal)
            self._succeed()
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure becomes a state, never a dialog
            await self._fail(exc)
            return None
        self._succeed()
        return result

    async def _connected(self, ignore_backoff: bool) -> LiteBalancer:
        async with self._lock:
            if self._balancer is not None and self._balancer.alive_peers_num > 0:
                return self._balancer
            await self._drop()
            retry_at = self._state.next_retry_at
            if not ignore_backoff and retry_at is not None and self._clock() < retry_at:
                raise _InBackoff
            self.connect_attempts += 1
            self._set_state(replace(self._state, status=ChainStatus.CONNECTING,
                                    message="Connecting to TON liteservers…"))
            config = await obtain_config(
                self.network, user_file=self._config_file, cache_dir=self._cache_dir,
                timeout_s=self._connect_timeout_s, url=self._config_url,
            )
            self._balancer = self._factory(config.data, self._request_timeout_s)
            await asyncio.wait_for(self._balancer.start_up(), self._connect_timeout_s)
            if self._balancer.alive_peers_num == 0:
                raise _NoPeers(config.liteserver_count)
            return self._balancer

    async def _drop(self) -> None:
        """Close a balancer even if its start-up was cut short (close_all() assumes it ended)."""
        balancer, self._balancer = self._balancer, None
        if balancer is None:
            return
        checker = getattr(balancer, "_checker", None)
        if checker is not None:
            checker.cancel()
        for peer in getattr(balancer, "_peers", []):
            try:
                await asyncio.wait_for(peer.close(), 2.0)
            except Exception as exc:
                log.debug("closing a liteserver connection failed: %s", type(exc).__name__)

    async def _fail(self, exc: Exception) -> None:
        async with self._lock:
            await self._drop()
        failures = self._state.failures + 1
        initial, most = self._backoff
        delay = min(most, initial * 2 ** (failures - 1)) * self._rng.uniform(0.8, 1.2)
        status, message = self._describe_failure(exc)
        log.info("TON chain %s: %s", status.value, message)
        self._set_state(replace(
            self._state, status=status, message=message, failures=failures,
            next_retry_at=self._clock() + delay,
        ))

    def _describe_failure(self, exc: Exception) -> tuple[ChainStatus, str]:
        if isinstance(exc, ChainConfigError):
            status = ChainStatus.OFFLINE if self._config_file else ChainStatus.UNREACHABLE
            return status, str(exc)
        again = "Showing the last known values; it retries by itself."
        if isinstance(exc, _NoPeers):
            count = exc.args[0]
            which = "The TON liteserver" if count == 1 else f"None of the {count} TON liteservers"
            verb = "could not be reached" if count == 1 else "could be reached"
            return ChainStatus.UNREACHABLE, (
                f"{which} {verb}. Check the internet connection or the TON config. {again}"
            )
        if isinstance(exc, TimeoutError):
            return ChainStatus.UNREACHABLE, f"The TON liteservers did not answer in time. {again}"
        return ChainStatus.UNREACHABLE, (
            f"The TON liteservers could not be used ({type(exc).__name__}). {again}"
        )

    def _succeed(self) -> None:
        if self._state.status is ChainStatus.ONLINE and self._state.failures == 0:
            self._state = replace(self._state, last_success_at=self._clock())
            return
        self._set_state(ChainState(
            ChainStatus.ONLINE, self.network, "Connected to the TON network.",
            last_success_at=self._clock(),
        ))

    def _set_state(self, state: ChainState) -> None:
        self._state = state
        self._states.emit(state)


def snapshot_from_account(
    address: TonAddress,
    network: TonNetwork,
    account: Any,
    shard_account: Any,
    version: WalletVersion | None,
    now: float,
) -> AccountSnapshot:
    """Turn pytoniq's (Account | None, ShardAccount | None) into a snapshot."""
    last_lt = getattr(shard_account, "last_trans_lt", None) or None
    if account is None:
        seqno = 0 if version is not None else None  # a wallet not deployed yet signs seqno 0
        return AccountSnapshot(address.raw, network, 0, AccountStatus.NONEXIST, seqno, last_lt, now)
    state = account.storage.state
    status = {
        "account_active": AccountStatus.ACTIVE,
        "account_frozen": AccountStatus.FROZEN,
    }.get(state.type_, AccountStatus.UNINIT)
    seqno = None
    if status is AccountStatus.ACTIVE and version is not None and state.state_init.data:
        try:
            seqno = seqno_from_data(version, state.state_init.data)
        except Exception:
            seqno = None
    elif version is not None and status is AccountStatus.UNINIT:
        seqno = 0
    balance = account.storage.balance.grams
    return AccountSnapshot(address.raw, network, balance, status, seqno, last_lt, now)
