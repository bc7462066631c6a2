"""What a node tells its front ends besides its status: the events a page must follow at once.

`LedgerSwitched`: the node records into another ledger (its first when it opens, then one per
network picked), so the earnings pages read that one from now on. The wallet's counterpart is
`wallet_host.NodeWallet`, sent when the node (re)opens the wallet and chain of the network it
serves.
"""

from __future__ import annotations

from dataclasses import dataclass

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.settings import NetworkKind


@dataclass(frozen=True)
class LedgerSwitched:
    network: NetworkKind  # whose served requests the ledger holds
    ledger: Ledger | None  # None: it could not be opened (`problem` says why)
    problem: str = ""
