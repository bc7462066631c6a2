"""The first-run wizard's state machine, driven without any widget."""

from __future__ import annotations

import random

import pytest

from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui_logic.wizard import (
    NODE_WALLET_MIN_NANOTON,
    EligibilityView,
    ModelChoice,
    Step,
    WalletMode,
    WizardError,
    WizardMachine,
)
from cocoon_desktop.wallet.address import canonical_owner_address
from cocoon_desktop.wallet.errors import MnemonicError
from cocoon_desktop.wallet.mnemonic import check_mnemonic, create_mnemonic, normalize_words

TEST_NETS_ONLY = EligibilityView("This machine can serve Cocoon test networks", ("no TDX",), False)
MAINNET_OK = EligibilityView("This machine can serve Cocoon mainnet", (), True)
LOCAL_ONLY = EligibilityView("Local chat only", ("no keyring",), False, False)


RAW = "0:" + "ab" * 32
TESTNET_FORM = canonical_owner_address(RAW, "testnet")


def machine() -> WizardMachine:
    """The machine with the wallet package's real address parser and mnemonic checker."""
    return WizardMachine(canonical_owner_address, check_mnemonic, rng=random.Random(7),
                         split=normalize_words)


def new_words() -> list[str]:
    return create_mnemonic()


def words_and_an_invalid_swap() -> tuple[list[str], list[str]]:
    """Valid words, and the same with two words swapped (which is valid 1 time in 256)."""
    while True:
        words = new_words()
        swapped = [words[1], words[0], *words[2:]]
        try:
            check_mnemonic(swapped)
        except MnemonicError:
            return words, swapped


def to_wallet_choice(m: WizardMachine, network: NetworkKind, view=TEST_NETS_ONLY) -> None:
    m.eligibility_ready(view)
    m.next()
    m.choose_network(network)
    m.next()
    assert m.step is Step.WALLET_CHOICE


def finish_model(m: WizardMachine) -> None:
    m.next()
    assert m.step is Step.MODEL
    assert not m.can_advance()
    m.choose_model("")
    assert not m.can_advance()  # not checked yet
    m.model_checked(ModelChoice("", "smollm2@x:abcd", None, "runs on the CPU"))
    m.next()
    assert m.step is Step.FINISH


def test_next_waits_for_the_eligibility_report() -> None:
    m = machine()
    assert not m.can_advance()
    with pytest.raises(WizardError, match="still running"):
        m.next()


def test_mainnet_needs_eligibility() -> None:
    m = machine()
    m.eligibility_ready(TEST_NETS_ONLY)
    m.next()
    assert NetworkKind.MAINNET not in m.allowed_networks()
    with pytest.raises(WizardError, match="TDX"):
        m.choose_network(NetworkKind.MAINNET)
    m3 = machine()
    m3.eligibility_ready(LOCAL_ONLY)
    m3.next()
    assert m3.allowed_networks() == (NetworkKind.DEVNET,)
    with pytest.raises(WizardError, match="test network yet"):
        m3.choose_network(NetworkKind.TESTNET)
    m2 = machine()
    m2.eligibility_ready(MAINNET_OK)
    m2.next()
    m2.choose_network(NetworkKind.MAINNET)
    assert m2.network is NetworkKind.MAINNET


def test_link_watch_only_address_path_to_finish() -> None:
    m = machine()
    to_wallet_choice(m, NetworkKind.TESTNET)
    assert WalletMode.SKIP not in m.allowed_wallet_modes()
    m.choose_wallet_mode(WalletMode.LINK)
    with pytest.raises(WizardError, match="Paste"):
        m.link_owner_address("  ")
    with pytest.raises(WizardError, match="48 characters"):
        m.link_owner_address("hello")
    assert m.step is Step.LINK_ADDRESS
    m.link_owner_address(" " + RAW)
    assert m.owner_address == TESTNET_FORM
    assert m.step is Step.NODE_WALLET
    assert not m.can_advance()
    m.node_wallet_ready("node-address")
    assert m.needs_funding and not m.funded and not m.can_advance()
    m.node_balance_updated(NODE_WALLET_MIN_NANOTON - 1)
    assert not m.can_advance()
    m.node_balance_updated(NODE_WALLET_MIN_NANOTON)
    assert m.funded and m.can_advance()
    finish_model(m)
    result = m.finish()
    assert result.network is NetworkKind.TESTNET and result.funded
    assert result.settings_changes()["owner_address"] == TESTNET_FORM
    assert result.settings_changes()["wizard_completed"] is True


def test_fund_later_lets_the_user_continue() -> None:
    m = machine()
    to_wallet_choice(m, NetworkKind.TESTNET)
    m.choose_wallet_mode(WalletMode.LINK)
    m.link_owner_address(RAW)
    m.node_wallet_ready("node")
    m.set_fund_later(True)
    assert m.can_advance()
    finish_model(m)
    assert m.finish().funded is False


def test_create_shows_words_once_and_asks_three_back() -> None:
    m = machine()
    to_wallet_choice(m, NetworkKind.TESTNET)
    m.choose_wallet_mode(WalletMode.CREATE)
    assert m.step is Step.SHOW_WORDS
    with pytest.raises(WizardError, match="being generated"):
        m.words_written_down()
    words = new_words()
    m.mnemonic_generated(words)
    assert m.words_to_show == words
    m.words_written_down()
    assert m.step is Step.CONFIRM_WORDS
    positions = m.asked_positions
    assert len(positions) == 3 and len(set(positions)) == 3
    assert list(positions) == sorted(positions) and all(1 <= p <= 24 for p in positions)
    wrong = {p: "zzz" for p in positions}
    with pytest.raises(WizardError, match="does not match"):
        m.confirm_words(wrong)
    answers = {p: f" {words[p - 1].upper()} " for p in positions}
    assert m.confirm_words(answers) == words
    m.wallet_stored("testnet:owner")
    assert m.step is Step.NODE_WALLET
    assert m.words_to_show == []  # gone from memory
    m.back()
    assert m.step is Step.WALLET_CHOICE  # the words cannot be shown again


def test_back_from_confirm_shows_the_same_words_and_new_positions() -> None:
    m = machine()
    to_wallet_choice(m, NetworkKind.TESTNET)
    m.choose_wallet_mode(WalletMode.CREATE)
    words = new_words()
    m.mnemonic_generated(words)
    m.words_written_down()
    m.back()
    assert m.step is Step.SHOW_WORDS and m.words_to_show == words
    assert m.asked_positions == ()


def test_import_reports_the_checkers_error() -> None:
    m = machine()
    to_wallet_choice(m, NetworkKind.TESTNET)
    m.choose_wallet_mode(WalletMode.IMPORT)
    with pytest.raises(WizardError, match="24 secret words"):
        m.parse_import("")
    with pytest.raises(WizardError, match="24 secret words; 2 were entered"):
        m.parse_import("abandon ability")
    with pytest.raises(WizardError, match="Word #2 is not in the TON word list") as typo:
        m.parse_import("abandon abilityy")
    assert "ability" in typo.value.suggestions and "ability" not in str(typo.value)
    assert "Did you mean: " in typo.value.shown_text and "ability" in typo.value.shown_text
    words, swapped = words_and_an_invalid_swap()
    with pytest.raises(WizardError, match="not a TON secret phrase"):
        m.parse_import(" ".join(swapped))
    numbered = " ".join(f"{i}. {w.upper()}," for i, w in enumerate(words, start=1))
    assert m.parse_import(numbered) == words
    m.wallet_stored("testnet:imported")
    assert m.owner_address == "testnet:imported"


def test_devnet_can_skip_the_wallet_and_needs_no_funding() -> None:
    m = machine()
    to_wallet_choice(m, NetworkKind.DEVNET)
    m.choose_wallet_mode(WalletMode.SKIP)
    assert m.step is Step.NODE_WALLET and m.owner_address == ""
    assert not m.can_advance()
    m.node_wallet_ready("")  # no owner address: the node wallet has no address yet
    assert not m.needs_funding and m.can_advance()
    finish_model(m)
    assert m.finish().owner_address == ""


def test_skip_refused_outside_devnet() -> None:
    m = machine()
    to_wallet_choice(m, NetworkKind.TESTNET)
    with pytest.raises(WizardError, match="devnet"):
        m.choose_wallet_mode(WalletMode.SKIP)


def test_changing_network_forgets_an_address_of_the_other_network() -> None:
    m = machine()
    to_wallet_choice(m, NetworkKind.TESTNET)
    m.choose_wallet_mode(WalletMode.LINK)
    m.link_owner_address(RAW)
    while m.step is not Step.NETWORK:
        m.back()
    m.choose_network(NetworkKind.DEVNET)
    assert m.owner_address == ""


def test_model_must_be_gguf_and_stale_results_are_ignored() -> None:
    m = machine()
    to_wallet_choice(m, NetworkKind.DEVNET)
    m.choose_wallet_mode(WalletMode.SKIP)
    m.node_wallet_ready("node")
    m.next()
    with pytest.raises(WizardError, match="gguf"):
        m.choose_model("/models/readme.txt")
    m.choose_model("/models/a.gguf")
    m.model_checked(ModelChoice("/models/b.gguf", "b@x:1"))  # the user moved on from b
    assert not m.can_advance()
    m.model_checked(ModelChoice("/models/a.gguf", "a@x:2", True, "all layers on the GPU"))
    assert m.can_advance() and m.model is not None and m.model.fits_in_vram


def test_actions_belong_to_their_step() -> None:
    m = machine()
    with pytest.raises(WizardError, match="network step"):
        m.choose_network(NetworkKind.DEVNET)
    with pytest.raises(WizardError, match="first step"):
        m.back()


def test_cancel_drops_the_words() -> None:
    m = machine()
    to_wallet_choice(m, NetworkKind.TESTNET)
    m.choose_wallet_mode(WalletMode.CREATE)
    words = new_words()
    m.mnemonic_generated(list(words))
    m.cancel()
    assert m.words_to_show == []



def test_the_pasted_address_is_shown_back_as_given() -> None:
    """Issue 15: a mainnet `UQ…` pasted for a test network came back as `0Q…`."""
    pasted = "UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m"
    m = machine()
    m.eligibility_ready(TEST_NETS_ONLY)
    m.next()
    m.choose_network(NetworkKind.TESTNET)
    m.next()
    m.choose_wallet_mode(WalletMode.LINK)
    m.link_owner_address(f" {pasted} ")
    assert m.owner_address.startswith("0Q")  # what the settings and the worker use
    assert m.owner_address_shown == pasted  # what the user reads back
    while m.step is not Step.NETWORK:
        m.back()
    m.choose_network(NetworkKind.DEVNET)  # an address belongs to one network: both go
    assert m.owner_address_shown == "" and m.owner_address == ""
