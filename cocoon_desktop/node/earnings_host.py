"""The node's money side: the ledger, the recorder fed by the worker, the earnings summary,
payouts and the periodic chain sync.

One ledger per network (`earnings.ledger_files`): the host records into the ledger of the network
the node serves and switches ledgers when the user picks another network, so the summary is
always one network's figures (`network` says which). A ledger that cannot be opened is a
problem the node reports, not a reason to stop serving (the proxy keeps its own count; the
statements come again). Payouts and chain sync run only on networks with a chain (not the
devnet), once the node wallet key could be read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cocoon_desktop.core.tasks import TaskSet, run_blocking
from cocoon_desktop.earnings.chain_sync import sync_with_chain
from cocoon_desktop.earnings.figures import EarningsSummary, summarize
from cocoon_desktop.earnings.ledger import Ledger, LedgerError
from cocoon_desktop.earnings.ledger_files import choose_ledger
from cocoon_desktop.earnings.payout_service import PayoutService
from cocoon_desktop.earnings.recorder import EarningsRecorder
from cocoon_desktop.earnings.records import ProxyInfo
from cocoon_desktop.earnings.wallet_bridge import WalletChainReader, WalletPayoutSender
from cocoon_desktop.hardware.energy import EnergyMeter
from cocoon_desktop.network.errors import RemoteError
from cocoon_desktop.node.config import NodeConfig
from cocoon_desktop.protocol.statements import VerifiedStatement
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.manager import WalletManager

if TYPE_CHECKING:  # the worker and its stats pages load when serving starts, not with the app
    from cocoon_desktop.network.worker.http_stats import PayoutHook
    from cocoon_desktop.network.worker.served import ServedWorker

log = logging.getLogger(__name__)
SUMMARY_EVERY_S = 60.0
SUMMARY_DEBOUNCE_S = 1.0


class EarningsHost:
    def __init__(self, data_dir: Path, config: NodeConfig, energy: EnergyMeter,
                 on_change: Callable[[], None]) -> None:
        self._data_dir = data_dir
        self.config = config
        self._energy = energy
        self._on_change = on_change
        self.network: NetworkKind = config.network  # whose ledger is open (and summarized)
        self.ledger_file: Path | None = None
        self.ledger: Ledger | None = None
        self.recorder: EarningsRecorder | None = None
        self.payouts: PayoutService | None = None
        self.summary: EarningsSummary | None = None  # figures of `network`'s ledger
        self.problems: dict[str, str] = {}
        self._retired: list[Ledger] = []  # earlier networks' ledgers: pages may still read them
        self._dirty = asyncio.Event()
        self._tasks = TaskSet("the earnings summary")
        self._money_tasks = TaskSet("payouts and chain sync")  # one network's ledger and wallet

    def open(self, *, adopt_legacy: bool = True) -> None:
        """Open the ledger of `network` and the recorder (blocking: SQLite migrations, fsync;
        the first time, an old single ledger may be adopted)."""
        try:
            choice = choose_ledger(self._data_dir, self.network, adopt_legacy=adopt_legacy)
            if choice.note:
                log.warning("%s", choice.note)
            self.ledger_file = choice.path
            self.ledger = Ledger.open(choice.path)
        except (LedgerError, OSError) as exc:
            self.problems["ledger"] = f"Earnings cannot be recorded: {exc}"
            log.error("%s", self.problems["ledger"])
            return
        self.recorder = EarningsRecorder(
            self.ledger, energy_meter=self._energy, tariff=lambda: self.config.tariff,
            on_request=self._on_request)

    def start(self) -> None:
        """Keep the summary fresh (on the event loop)."""
        if self.ledger is not None and not self._tasks.running():
            self._tasks.spawn(self._summary_loop(), "earnings.summary")

    async def switch_network(self, network: NetworkKind) -> bool:
        """Record into `network`'s ledger from now on (the worker is detached: serving stopped
        first); False when that ledger is the one in use already. The earlier ledger stays
        open, read-only in practice, until `close()`, so a page that still reads it never meets
        a closed database."""
        if network is self.network and self.ledger is not None:
            return False
        await self._stop_money_tasks()
        if self.recorder is not None:
            await run_blocking(self.recorder.close)
        if self.ledger is not None:
            self._retired.append(self.ledger)
        self.ledger = self.recorder = self.summary = None
        for key in ("ledger", "payout", "chain"):
            self.problems.pop(key, None)
        self.network = network
        await run_blocking(self.open, adopt_legacy=False)
        log.info("earnings now go to the %s ledger (%s)", network.value, self.ledger_file)
        self._on_change()
        self.start()
        self._dirty.set()
        return True

    async def restore_accounts(self, worker: ServedWorker) -> int:
        """Seed the worker, before it starts, with what each proxy committed as this ledger
        knows it (newest statement, the proxy's counters), so a proxy that lost or rolled
        back its books is refused at the first handshake of this run too. The number seeded."""
        if self.ledger is None:
            return 0
        try:
            balances = await run_blocking(_committed_balances, self.ledger)
        except (LedgerError, sqlite3.Error, OSError) as exc:
            log.error("the proxies' balances could not be read from the ledger (%s): this run "
                      "cannot tell whether a proxy rolled back what it committed", exc)
            return 0
        for info, statement in balances:
            try:
                worker.restore_account(statement, info.proxy_sc_address, info.db_tokens,
                                       info.max_tokens)
            except RemoteError as exc:  # the ledger holds two keys for one proxy contract
                log.error("the balance of proxy %s was not restored: %s", info.proxy_key[:12],
                          exc.message)
        if balances:
            log.info("restored what %d prox%s committed, from the %s ledger", len(balances),
                     "y" if len(balances) == 1 else "ies", self.network.value)
        return len(balances)

    def attach(self, worker: ServedWorker) -> None:
        if self.recorder is not None:
            worker.add_listener(self.recorder.on_worker_event)

    def detach(self, worker: ServedWorker) -> None:
        if self.recorder is not None:
            worker.remove_listener(self.recorder.on_worker_event)

    def enable_payouts(self, manager: WalletManager, chain: ChainService,
                       owner_address: str) -> None:
        """Pay out and sync with the chain on timers (networks with a chain only)."""
        if self.ledger is None or self.payouts is not None:
            return
        self.payouts = PayoutService(self.ledger, WalletPayoutSender(manager, chain))
        reader = WalletChainReader(chain, owner_address)
        self._money_tasks.spawn(self._every(self.config.payout_check_interval_s, self._pay),
                                "earnings.payouts")
        self._money_tasks.spawn(self._every(self.config.chain_sync_interval_s,
                                            lambda: self._sync(reader)), "earnings.chain-sync")

    @property
    def payout_hook(self) -> PayoutHook | None:
        return self.payouts.request_payout if self.payouts is not None else None

    async def close(self) -> None:
        await self._money_tasks.close()
        self.payouts = None
        await self._tasks.close()
        if self.recorder is not None:
            await run_blocking(self.recorder.close)
        for ledger in [*self._retired, *([self.ledger] if self.ledger else [])]:
            await run_blocking(ledger.close)
        self._retired = []

    async def _stop_money_tasks(self) -> None:
        """Payouts and chain sync belong to one network's ledger and wallet."""
        await self._money_tasks.cancel_all()
        self.payouts = None

    # -- loops -------------------------------------------------------------------------------
    def _on_request(self) -> None:
        if self.payouts is not None:
            self.payouts.note_request()
        self._dirty.set()

    async def refresh_summary(self) -> None:
        ledger, recorder = self.ledger, self.recorder
        if ledger is None:
            return
        if recorder is not None:
            await run_blocking(recorder.flush)
        summary = await run_blocking(summarize, ledger, None, None, self.config.ton_price)
        if ledger is self.ledger:  # not switched to another network meanwhile
            self.summary = summary
            self._on_change()

    async def _summary_loop(self) -> None:
        while True:
            try:
                await self.refresh_summary()
            except Exception:
                log.exception("the earnings summary could not be computed; trying again later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), SUMMARY_EVERY_S)
            self._dirty.clear()
            await asyncio.sleep(SUMMARY_DEBOUNCE_S)

    async def _pay(self) -> None:
        assert self.payouts is not None
        held = ""
        for outcome in await self.payouts.run_once():
            if outcome.sent:
                log.info("payout: %s", outcome.message)
            elif outcome.gas is not None and not outcome.gas.ok:
                held = outcome.gas.message
        self._set_problem("payout", held)

    async def _sync(self, reader: WalletChainReader) -> None:
        assert self.ledger is not None
        report = await sync_with_chain(self.ledger, reader)
        self._set_problem("chain", "; ".join(report.problems))
        if report.confirmed or report.received or report.found_on_chain:
            self._dirty.set()

    def _set_problem(self, key: str, text: str) -> None:
        if self.problems.get(key, "") != text:
            if text:
                self.problems[key] = text
                log.warning("%s: %s", key, text)
            else:
                self.problems.pop(key, None)
            self._on_change()

    async def _every(self, interval_s: float,
                     step: Callable[[], Coroutine[Any, Any, None]]) -> None:
        while True:
            try:
                await step()
            except Exception:
                log.exception("a periodic earnings step failed; it runs again in %.0f s",
                              interval_s)
            await asyncio.sleep(interval_s)


def _committed_balances(ledger: Ledger) -> list[tuple[ProxyInfo, VerifiedStatement]]:
    """Each proxy the ledger holds a statement of, with its newest statement."""
    found = []
    for info in ledger.proxies():
        latest = ledger.latest_statement(info.proxy_key)
        if latest is not None:
            found.append((info, latest[1]))
    return found
