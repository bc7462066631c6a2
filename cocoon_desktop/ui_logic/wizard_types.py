"""The first-run wizard's plain data: steps, choices, what the doctor found, the result."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cocoon_desktop.settings import NetworkKind

WORDS_IN_MNEMONIC = 24
WORDS_ASKED_BACK = 3
# The upstream worker runner refuses to start with less than about 2.1 TON in the node wallet.
NODE_WALLET_MIN_NANOTON = 2_100_000_000


class Step(StrEnum):
    ELIGIBILITY = "eligibility"
    NETWORK = "network"
    WALLET_CHOICE = "wallet_choice"
    LINK_ADDRESS = "link_address"
    SHOW_WORDS = "show_words"
    CONFIRM_WORDS = "confirm_words"
    IMPORT_WORDS = "import_words"
    NODE_WALLET = "node_wallet"
    MODEL = "model"
    FINISH = "finish"


class WalletMode(StrEnum):
    LINK = "link"  # watch-only owner address (recommended)
    CREATE = "create"
    IMPORT = "import"
    SKIP = "skip"  # local devnet only


class WizardError(ValueError):
    """The user's input cannot be accepted; the text says why and what to do.

    `suggestions` (nearest valid words for a mistyped secret word) are kept out of the text,
    which may reach a log; only the page shows them, through `shown_text`."""

    def __init__(self, message: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.suggestions = suggestions

    @property
    def shown_text(self) -> str:
        if not self.suggestions:
            return str(self)
        return f"{self} Did you mean: {', '.join(self.suggestions)}?"


@dataclass(frozen=True)
class EligibilityView:
    """What the doctor concluded, in the words the wizard shows."""

    headline: str  # e.g. "This machine can serve Cocoon test networks"
    reasons: tuple[str, ...]  # one plain sentence per finding
    mainnet_eligible: bool
    test_networks_eligible: bool = True
    next_steps: tuple[str, ...] = ()
    checks: tuple[tuple[str, str, str], ...] = ()  # (title, status, summary) per doctor check


@dataclass(frozen=True)
class ModelChoice:
    path: str  # empty = the bundled default model
    name: str = ""  # Cocoon name once hashed: name@commit:hash
    fits_in_vram: bool | None = None  # None: no GPU to fit in
    note: str = ""  # e.g. "all 30 layers on the GPU" or "runs on the CPU"


@dataclass(frozen=True)
class WizardResult:
    """What the finished wizard decided; the app turns it into settings."""

    network: NetworkKind
    owner_address: str
    node_wallet_address: str
    model_path: str
    funded: bool

    def settings_changes(self) -> dict[str, object]:
        return {
            "network": self.network,
            "owner_address": self.owner_address,
            "model_path": self.model_path,
            "wizard_completed": True,
        }
