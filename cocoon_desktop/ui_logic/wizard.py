"""The first-run wizard as a Qt-free state machine (in the manner of Electrum's wallet wizard).

The machine decides which step comes next, what the user may do on each step and when a step is
complete; the widgets in `ui/wizard/` only render `machine.step` and forward what the user did.
Effects that touch the keyring or the chain (storing a mnemonic, creating the node wallet, reading
its balance, hashing a model) are done by the app's adapters, which report their results back
with the `*_ready` / `*_stored` / `*_updated` methods; pure checks (parsing an address, checking a
mnemonic) are injected as plain functions so tests drive the machine with the real ones.

Order: eligibility -> network -> wallet (link watch-only | create | import | skip on devnet)
-> node wallet -> model -> finish (which opens the test chat). The network comes before the
wallet because an owner address must belong to the network the user serves.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui_logic.wizard_types import (
    NODE_WALLET_MIN_NANOTON,
    WORDS_ASKED_BACK,
    WORDS_IN_MNEMONIC,
    EligibilityView,
    ModelChoice,
    Step,
    WalletMode,
    WizardError,
    WizardResult,
)

__all__ = [
    "NODE_WALLET_MIN_NANOTON", "EligibilityView", "ModelChoice", "Step", "WalletMode",
    "WizardError", "WizardMachine", "WizardResult",
]

AddressParser = Callable[[str, NetworkKind], str]  # canonical address, or ValueError saying why
MnemonicChecker = Callable[[list[str]], None]  # ValueError saying what is wrong
WordSplitter = Callable[[str], list[str]]


def split_words(text: str) -> list[str]:
    return text.replace(",", " ").lower().split()


@dataclass
class _Data:
    eligibility: EligibilityView | None = None
    network: NetworkKind | None = None
    wallet_mode: WalletMode | None = None
    owner_address: str = ""
    owner_address_given: str = ""  # as the user pasted it: what the wizard shows back
    words: list[str] | None = field(default=None, repr=False)
    asked_indices: tuple[int, ...] = ()
    node_wallet_address: str = ""
    node_ready: bool = False
    node_balance_nanoton: int | None = None
    fund_later: bool = False
    model: ModelChoice | None = None


class WizardMachine:
    """Steps, guards and transitions of the first-run wizard."""

    def __init__(
        self,
        parse_address: AddressParser,
        check_mnemonic: MnemonicChecker,
        rng: random.Random | None = None,
        min_node_balance_nanoton: int = NODE_WALLET_MIN_NANOTON,
        split: WordSplitter = split_words,
    ) -> None:
        self._parse_address = parse_address
        self._check_mnemonic = check_mnemonic
        self._split = split
        self._rng = rng or random.SystemRandom()
        self._min_balance = min_node_balance_nanoton
        self._data = _Data()
        self._history: list[Step] = []
        self.step = Step.ELIGIBILITY

    # -- what the widgets read -------------------------------------------------------------
    @property
    def eligibility(self) -> EligibilityView | None:
        return self._data.eligibility

    @property
    def network(self) -> NetworkKind | None:
        return self._data.network

    @property
    def owner_address(self) -> str:
        """The canonical form for the network chosen (what the settings keep)."""
        return self._data.owner_address

    @property
    def owner_address_shown(self) -> str:
        """The owner address as the user gave it (Electrum and MyTonWallet echo it exactly)."""
        return self._data.owner_address_given or self._data.owner_address

    @property
    def words_to_show(self) -> list[str]:
        """The new mnemonic, only while the user is writing it down or asked it back."""
        if self.step in (Step.SHOW_WORDS, Step.CONFIRM_WORDS) and self._data.words:
            return list(self._data.words)
        return []

    @property
    def asked_positions(self) -> tuple[int, ...]:
        """1-based positions of the words asked back, in ascending order."""
        return tuple(i + 1 for i in self._data.asked_indices)

    @property
    def node_wallet_address(self) -> str:
        return self._data.node_wallet_address

    @property
    def node_balance_nanoton(self) -> int | None:
        return self._data.node_balance_nanoton

    @property
    def needs_funding(self) -> bool:
        return self._data.network is not NetworkKind.DEVNET

    @property
    def min_node_balance_nanoton(self) -> int:
        return self._min_balance

    @property
    def funded(self) -> bool:
        balance = self._data.node_balance_nanoton
        return not self.needs_funding or (balance is not None and balance >= self._min_balance)

    @property
    def model(self) -> ModelChoice | None:
        return self._data.model

    def allowed_networks(self) -> tuple[NetworkKind, ...]:
        """The local devnet always; test networks and mainnet as the doctor concluded."""
        view = self._data.eligibility
        allowed = [NetworkKind.DEVNET]
        if view is not None and view.test_networks_eligible:
            allowed.append(NetworkKind.TESTNET)
        if view is not None and view.mainnet_eligible:
            allowed.append(NetworkKind.MAINNET)
        return tuple(allowed)

    def allowed_wallet_modes(self) -> tuple[WalletMode, ...]:
        modes = (WalletMode.LINK, WalletMode.CREATE, WalletMode.IMPORT)
        return (*modes, WalletMode.SKIP) if self._data.network is NetworkKind.DEVNET else modes

    def can_advance(self) -> bool:
        """Whether Next is enabled on the current step."""
        d = self._data
        match self.step:
            case Step.ELIGIBILITY:
                return d.eligibility is not None
            case Step.NETWORK:
                return d.network is not None
            case Step.NODE_WALLET:
                return d.node_ready and (self.funded or d.fund_later)
            case Step.MODEL:
                return d.model is not None and bool(d.model.name)
            case Step.FINISH:
                return True
            case _:  # wallet steps advance through their own actions
                return False

    @property
    def can_go_back(self) -> bool:
        return bool(self._history)

    # -- what the user does ----------------------------------------------------------------
    def eligibility_ready(self, view: EligibilityView) -> None:
        self._data.eligibility = view

    def next(self) -> Step:
        """Advance from a step whose completion is a plain Next click."""
        if not self.can_advance():
            raise WizardError(self._why_not_advance())
        following = {
            Step.ELIGIBILITY: Step.NETWORK,
            Step.NETWORK: Step.WALLET_CHOICE,
            Step.NODE_WALLET: Step.MODEL,
            Step.MODEL: Step.FINISH,
        }
        if self.step not in following:
            raise WizardError("This step finishes with its own button.")
        return self._go(following[self.step])

    def back(self) -> Step:
        if not self._history:
            raise WizardError("This is the first step.")
        previous = self._history.pop()
        if previous in (Step.SHOW_WORDS, Step.CONFIRM_WORDS) and not self._data.words:
            # The words were shown once and are gone: back goes to the wallet choice instead.
            while self._history and previous != Step.WALLET_CHOICE:
                previous = self._history.pop()
        if previous is Step.SHOW_WORDS:
            self._data.asked_indices = ()
        self.step = previous
        return self.step

    def choose_network(self, kind: NetworkKind) -> None:
        self._require(Step.NETWORK)
        if kind not in self.allowed_networks():
            if kind is NetworkKind.MAINNET:
                raise WizardError(
                    "Cocoon mainnet accepts only machines with an Intel TDX confidential VM and "
                    "a confidential-computing NVIDIA GPU; choose a test network or the local "
                    "devnet."
                )
            raise WizardError(
                "This machine cannot serve a Cocoon test network yet (see the eligibility "
                "report); the local devnet works."
            )
        if kind != self._data.network and self._data.owner_address:
            self._data.owner_address = ""  # an address belongs to one network
            self._data.owner_address_given = ""
        self._data.network = kind

    def choose_wallet_mode(self, mode: WalletMode) -> Step:
        self._require(Step.WALLET_CHOICE)
        if mode not in self.allowed_wallet_modes():
            raise WizardError("Only the local devnet can run without an owner address.")
        self._data.wallet_mode = mode
        target = {
            WalletMode.LINK: Step.LINK_ADDRESS,
            WalletMode.CREATE: Step.SHOW_WORDS,
            WalletMode.IMPORT: Step.IMPORT_WORDS,
            WalletMode.SKIP: Step.NODE_WALLET,
        }[mode]
        if mode is WalletMode.SKIP:
            self._data.owner_address = self._data.owner_address_given = ""
        return self._go(target)

    def parse_owner_address(self, text: str) -> str:
        """The canonical form of a pasted owner address for the chosen network."""
        self._require(Step.LINK_ADDRESS)
        if not text.strip():
            raise WizardError("Paste the TON address that should receive your payouts.")
        assert self._data.network is not None
        try:
            return self._parse_address(text.strip(), self._data.network)
        except ValueError as exc:
            raise WizardError(str(exc)) from None

    def link_owner_address(self, text: str) -> Step:
        self._data.owner_address = self.parse_owner_address(text)
        self._data.owner_address_given = "".join(text.split())
        return self._go(Step.NODE_WALLET)

    def mnemonic_generated(self, words: list[str]) -> None:
        """The adapter created a fresh mnemonic for the SHOW_WORDS step."""
        self._require(Step.SHOW_WORDS)
        if len(words) != WORDS_IN_MNEMONIC:
            raise WizardError(f"A new wallet needs {WORDS_IN_MNEMONIC} words.")
        self._data.words = list(words)

    def words_written_down(self) -> Step:
        self._require(Step.SHOW_WORDS)
        if not self._data.words:
            raise WizardError("The words are still being generated; wait a moment.")
        picks = sorted(self._rng.sample(range(WORDS_IN_MNEMONIC), WORDS_ASKED_BACK))
        self._data.asked_indices = tuple(picks)
        return self._go(Step.CONFIRM_WORDS)

    def confirm_words(self, answers: dict[int, str]) -> list[str]:
        """Check the words asked back (1-based positions); return the mnemonic to store."""
        self._require(Step.CONFIRM_WORDS)
        words = self._data.words or []
        wrong = [
            pos for pos in self.asked_positions
            if answers.get(pos, "").strip().lower() != words[pos - 1]
        ]
        if wrong:
            listed = ", ".join(f"#{p}" for p in wrong)
            raise WizardError(
                f"Word {listed} does not match what was shown. Check your written copy; go Back "
                "to see the words again if you did not write them down."
            )
        return list(words)

    def parse_import(self, text: str) -> list[str]:
        """Normalise pasted words and check them; return the mnemonic to store."""
        self._require(Step.IMPORT_WORDS)
        words = self._split(text)
        if not words:
            raise WizardError("Type or paste your 24 secret words, separated by spaces.")
        try:
            self._check_mnemonic(words)
        except ValueError as exc:
            raise WizardError(str(exc), tuple(getattr(exc, "suggestions", ()))) from None
        return words

    def wallet_stored(self, owner_address: str) -> Step:
        """The adapter stored the created or imported mnemonic; the words leave memory."""
        if self.step not in (Step.CONFIRM_WORDS, Step.IMPORT_WORDS):
            raise WizardError("No wallet is being created or imported.")
        self._data.owner_address = owner_address
        self._data.owner_address_given = ""  # the app's own wallet: its form is the one shown
        self._forget_words()
        return self._go(Step.NODE_WALLET)

    def node_wallet_ready(self, address: str) -> None:
        """The node wallet exists; `address` is empty while no owner address is linked."""
        self._require(Step.NODE_WALLET)
        self._data.node_wallet_address = address
        self._data.node_ready = True

    def node_balance_updated(self, nanoton: int) -> None:
        self._data.node_balance_nanoton = nanoton

    def set_fund_later(self, later: bool) -> None:
        self._data.fund_later = later

    def choose_model(self, path: str) -> None:
        """Pick a model (empty path: the bundled one); it must be checked before Next."""
        self._require(Step.MODEL)
        if path and not path.lower().endswith(".gguf"):
            raise WizardError("Choose a .gguf model file, or keep the bundled default model.")
        self._data.model = ModelChoice(path=path)

    def model_checked(self, choice: ModelChoice) -> None:
        self._require(Step.MODEL)
        current = self._data.model
        if current is None or current.path != choice.path:
            return  # a result for a model the user no longer has selected
        if not choice.name:
            raise WizardError("The model check finished without a model name.")
        self._data.model = choice

    def finish(self) -> WizardResult:
        self._require(Step.FINISH)
        d = self._data
        assert d.network is not None and d.model is not None
        return WizardResult(
            network=d.network,
            owner_address=d.owner_address,
            node_wallet_address=d.node_wallet_address,
            model_path=d.model.path,
            funded=self.funded,
        )

    def cancel(self) -> None:
        """The user closed the wizard: drop the words if any."""
        self._forget_words()

    # -- internals -------------------------------------------------------------------------
    def _go(self, step: Step) -> Step:
        self._history.append(self.step)
        self.step = step
        return step

    def _require(self, step: Step) -> None:
        if self.step is not step:
            raise WizardError(f"This action belongs to the {step.value} step.")

    def _forget_words(self) -> None:
        if self._data.words:
            self._data.words.clear()
        self._data.words = None
        self._data.asked_indices = ()

    def _why_not_advance(self) -> str:
        match self.step:
            case Step.ELIGIBILITY:
                return "The eligibility check is still running."
            case Step.NETWORK:
                return "Choose where to serve first."
            case Step.NODE_WALLET if not self._data.node_ready:
                return "The node wallet is still being created."
            case Step.NODE_WALLET:
                return "Fund the node wallet, or choose to fund it later."
            case Step.MODEL:
                return "Choose a model and wait for its check to finish."
        return "This step finishes with its own button."
