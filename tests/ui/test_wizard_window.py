"""The first-run wizard in the real app shell: real doctor, real keyring, real model check."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from cocoon_desktop.settings import NetworkKind, load_settings
from cocoon_desktop.ui.wizard.wallet_pages import ConfirmWordsPage, ShowWordsPage
from cocoon_desktop.ui.wizard.wizard_window import WizardWindow
from cocoon_desktop.ui_logic.wizard import Step, WalletMode
from cocoon_desktop.wallet.manager import MNEMONIC_REF, NODE_KEY_REF

SLOW_MS = 120_000


def start_first_run(qtbot: Any, shell_factory: Any, run_async: Any, store: Any) -> Any:
    shell = shell_factory(secret_store=store)
    run_async(shell.start(), 30_000)
    wizard = shell.windows.wizard
    assert isinstance(wizard, WizardWindow) and wizard.isVisible()  # first run: the wizard
    qtbot.waitUntil(lambda: wizard.machine.eligibility is not None, timeout=SLOW_MS)
    assert wizard.next_button.isEnabled()
    assert "This machine can serve" in wizard.pages[Step.ELIGIBILITY].headline.text()
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    return shell, wizard


def finish_model_step(qtbot: Any, wizard: WizardWindow) -> None:
    qtbot.waitUntil(lambda: wizard.machine.step is Step.MODEL, timeout=SLOW_MS)
    qtbot.waitUntil(wizard.next_button.isEnabled, timeout=SLOW_MS)  # bundled model checked
    page = wizard.pages[Step.MODEL]
    result = page.result.text()
    assert "parameters · Q4_1" in result and "CPU" in result  # this test machine has no GPU
    # One unit for sizes everywhere (it said "98 MB" beside "93.8 MiB"); no shell command.
    assert "MiB" in result and " MB" not in result + page.bundled.text()
    assert "COCOON_CUDA" not in result and "`" not in result
    assert page.result.objectName() == "good"  # no NVIDIA card: nothing to warn about
    wizard.next_button.click()
    assert wizard.machine.step is Step.FINISH
    assert wizard.next_button.text() == "Finish and open the chat"


def test_devnet_without_wallet_to_the_chat(qtbot: Any, shell_factory: Any, run_async: Any,
                                           keyring_store: Any, paths: Any) -> None:
    shell, wizard = start_first_run(qtbot, shell_factory, run_async, keyring_store)
    network_page = wizard.pages[Step.NETWORK]
    assert not network_page.buttons[NetworkKind.MAINNET].isEnabled()  # no TDX here
    network_page.buttons[NetworkKind.DEVNET].setChecked(True)
    wizard.next_button.click()
    choice = wizard.pages[Step.WALLET_CHOICE]
    assert choice.buttons[WalletMode.SKIP].isVisibleTo(choice)
    choice.buttons[WalletMode.SKIP].click()
    assert wizard.machine.step is Step.NODE_WALLET
    qtbot.waitUntil(wizard.next_button.isEnabled, timeout=SLOW_MS)
    assert keyring_store.contains(NODE_KEY_REF)  # the node wallet key went to the keyring
    wizard.next_button.click()
    finish_model_step(qtbot, wizard)
    with qtbot.waitSignal(wizard.finished_with, timeout=5000) as done:
        wizard.next_button.click()
    assert done.args[0].network is NetworkKind.DEVNET
    qtbot.waitUntil(lambda: load_settings(paths.settings_file).settings.wizard_completed,
                    timeout=10_000)
    assert shell.windows.chat.isVisible()  # the wizard ends in the test chat


def test_testnet_create_wallet_words_asked_back(qtbot: Any, shell_factory: Any,
                                               run_async: Any, keyring_store: Any) -> None:
    shell, wizard = start_first_run(qtbot, shell_factory, run_async, keyring_store)
    wizard.pages[Step.NETWORK].buttons[NetworkKind.TESTNET].setChecked(True)
    wizard.next_button.click()
    wizard.pages[Step.WALLET_CHOICE].buttons[WalletMode.CREATE].click()
    show: ShowWordsPage = wizard.pages[Step.SHOW_WORDS]  # type: ignore[assignment]
    qtbot.waitUntil(show.done.isEnabled, timeout=SLOW_MS)
    words = [cell.text().split(". ", 1)[1] for cell in show.cells]
    assert len(words) == 24 and all(words)
    show.done.click()
    confirm: ConfirmWordsPage = wizard.pages[Step.CONFIRM_WORDS]  # type: ignore[assignment]
    assert all(cell.text() == "" for cell in show.cells)  # words left the screen
    positions = list(confirm.inputs)
    for line in confirm.inputs.values():
        line.setText("wrong")
    assert not run_async(confirm.submit())
    assert "does not match" in confirm.error.text()
    assert not keyring_store.contains(MNEMONIC_REF)
    for position in positions:
        confirm.inputs[position].setText(words[position - 1])
    assert run_async(confirm.submit(), 30_000)
    assert keyring_store.contains(MNEMONIC_REF)
    assert wizard.machine.step is Step.NODE_WALLET and wizard.machine.owner_address
    node_page = wizard.pages[Step.NODE_WALLET]
    qtbot.waitUntil(lambda: bool(wizard.machine.node_wallet_address), timeout=SLOW_MS)
    assert not wizard.next_button.isEnabled()  # testnet: fund it, or say "later"
    assert node_page.qr.payload.startswith("ton://transfer/")
    node_page.fund_later.setChecked(True)
    assert wizard.next_button.isEnabled()
    wizard.next_button.click()
    finish_model_step(qtbot, wizard)
    with qtbot.waitSignal(wizard.finished_with, timeout=5000) as done:
        wizard.next_button.click()
    assert done.args[0].network is NetworkKind.TESTNET and not done.args[0].funded
    # The app now serves testnet: its wallet page follows, with the wallet just created.
    qtbot.waitUntil(lambda: shell.wallet.view is not None
                    and shell.wallet.view.network is NetworkKind.TESTNET
                    and shell.wallet.view.full_wallet is not None, timeout=30_000)
    assert shell.wallet.view.owner_address == wizard.machine.owner_address


def test_import_with_a_mistake_is_explained(qtbot: Any, shell_factory: Any, run_async: Any,
                                           keyring_store: Any) -> None:
    _shell, wizard = start_first_run(qtbot, shell_factory, run_async, keyring_store)
    wizard.pages[Step.NETWORK].buttons[NetworkKind.TESTNET].setChecked(True)
    wizard.next_button.click()
    wizard.pages[Step.WALLET_CHOICE].buttons[WalletMode.IMPORT].click()
    page = wizard.pages[Step.IMPORT_WORDS]
    page.words.setPlainText("abandon " * 23 + "abandonn")
    assert not run_async(page.submit())
    assert "Word #24 is not in the TON word list" in page.error.text()
    assert wizard.machine.step is Step.IMPORT_WORDS
    assert not keyring_store.contains(MNEMONIC_REF)
    wizard.back_button.click()
    assert wizard.machine.step is Step.WALLET_CHOICE
