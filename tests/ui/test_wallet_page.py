"""The Wallet page over the real wallet package and the real OS keyring."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication

from cocoon_desktop.node.wallet_host import open_wallet
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui.controllers.wallet import WalletController
from cocoon_desktop.ui.wallet.qr import qr_image, qr_matrix, ton_transfer_link
from cocoon_desktop.ui.wallet.wallet_page import WalletPage
from cocoon_desktop.wallet.address import parse_address
from cocoon_desktop.wallet.errors import TransferError
from cocoon_desktop.wallet.manager import NODE_KEY_REF
from cocoon_desktop.wallet.networks import TonNetwork

RAW = "0:" + "ab" * 32
MAINNET_FORM = "UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m"


def make(qtbot: Any, paths: Any, store: Any, network: NetworkKind,
         config: str = "") -> tuple[WalletController, WalletPage]:
    wallet = open_wallet(paths, store, network, Path(config) if config else None)
    controller = WalletController(wallet, network)
    page = WalletPage(controller)
    qtbot.addWidget(page)
    return controller, page


def test_devnet_owner_link_node_wallet_and_export(qtbot: Any, paths: Any, keyring_store: Any,
                                                  run_async: Any) -> None:
    controller, page = make(qtbot, paths, keyring_store, NetworkKind.DEVNET)
    run_async(controller.refresh())
    assert page.keyring.text().startswith("Secrets are kept in the OS keyring")
    assert page.owner_address.text() == "No owner address linked yet."
    assert page.create_node_button.isVisibleTo(page)
    assert not run_async(page.link_owner("EQ-not-an-address"))
    assert page.owner_status.objectName() == "bad" and "address" in page.owner_status.text()
    assert run_async(page.link_owner(RAW))
    owner = parse_address(RAW).address.wallet_form(None)
    assert page.owner_address.text() == owner and page.owner_qr.payload == owner
    page.create_node_button.click()
    qtbot.waitUntil(lambda: controller.view is not None
                    and controller.view.node_wallet is not None, timeout=10_000)
    node = controller.view.node_wallet
    assert node is not None and node.address
    assert page.node_address.text() == node.address
    assert not page.create_node_button.isVisibleTo(page)
    assert page.node_qr.payload == ton_transfer_link(node.address, 2_100_000_000)
    assert "needs no funding" in page.node_balance_note.text()
    assert not page.node_qr.isVisibleTo(page)  # nothing to send on the devnet: no code to scan
    assert not page.withdraw_button.isEnabled()  # no chain on the devnet, and it says so
    assert "no TON chain" in page.chain.text() or "local devnet has none" in \
        page.withdraw_reason.text()
    assert page.withdraw_reason.isVisibleTo(page) and page.withdraw_button.toolTip()
    page.node_address.copy_button.click()  # a Copy button beside every address
    assert QGuiApplication.clipboard().text() == node.address
    with pytest.raises(TransferError, match="no chain"):
        run_async(controller.plan_withdraw("node", RAW, "1"))
    key = run_async(controller.export_node_key())
    assert key == keyring_store.load(NODE_KEY_REF)
    # What the app keeps on disk holds the public side only.
    on_disk = "".join(p.read_text() for p in paths.data_dir.glob("*.json"))
    assert on_disk and key not in on_disk


def test_testnet_offline_chain_is_a_state_and_withdraw_explains(
        qtbot: Any, paths: Any, keyring_store: Any, run_async: Any, tmp_path: Path) -> None:
    broken = tmp_path / "ton-config.json"
    broken.write_text('{"liteservers": []}')
    controller, page = make(qtbot, paths, keyring_store, NetworkKind.TESTNET, str(broken))
    run_async(controller.link_owner(RAW))
    run_async(controller.ensure_node_wallet())
    node = controller.view.node_wallet.address
    assert node.startswith(("0Q", "kQ"))  # testnet form
    run_async(controller.read_all_balances(), 30_000)
    qtbot.waitUntil(lambda: page.retry_button.isVisibleTo(page), timeout=10_000)
    assert "TON testnet" in page.chain.text() and page.chain.objectName() in ("bad", "warn")
    assert page.node_balance.text() == "—"
    dialog = page.open_withdraw()
    qtbot.addWidget(dialog)
    dialog.to.setText(RAW)
    dialog.amount.setText("1.5")
    dialog.next_button.click()
    qtbot.waitUntil(lambda: dialog.task is not None and dialog.task.done(), timeout=30_000)
    assert dialog.pages.currentIndex() == 0  # still on the form: nothing was signed or sent
    assert "could not be read" in dialog.status.text() and "nothing was sent" in \
        dialog.status.text()
    assert controller.chain is not None and controller.chain.network is TonNetwork.TESTNET


def test_the_owner_address_comes_back_as_given_with_copy(
        qtbot: Any, paths: Any, keyring_store: Any, run_async: Any) -> None:
    """Issue 15: a mainnet `UQ…` pasted while serving a test network came back as `0Q…`."""
    controller, page = make(qtbot, paths, keyring_store, NetworkKind.TESTNET)
    run_async(controller.refresh())
    assert run_async(page.link_owner(f" {MAINNET_FORM} "))
    assert page.owner_address.text() == MAINNET_FORM and page.owner_qr.payload == MAINNET_FORM
    testnet_form = parse_address(MAINNET_FORM).address.wallet_form(TonNetwork.TESTNET)
    note = page.owner_note.text()
    assert page.owner_note.isVisibleTo(page) and testnet_form in note
    assert "same account" in note
    page.owner_address.copy_button.click()
    assert QGuiApplication.clipboard().text() == MAINNET_FORM


def test_qr_image_matches_the_code(qapp: Any) -> None:
    text = ton_transfer_link("0QCrq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urqyNr", 2_100_000_000)
    matrix = qr_matrix(text)
    image = qr_image(text, 220)
    scale = image.width() // len(matrix)
    assert image.width() == image.height() == scale * len(matrix)
    for y in range(len(matrix)):
        for x in range(len(matrix)):
            pixel = image.pixelColor(x * scale + scale // 2, y * scale + scale // 2)
            assert (pixel.lightness() < 128) == matrix[y][x]


def test_stopping_the_wallet_ends_a_follow_in_progress(paths: Any, keyring_store: Any,
                                                        run_async: Any,
                                                        shell_factory: Any) -> None:
    """The node reopened its wallet just before the app quit: the refresh it started ends with
    the wallet's stop (one left running once emitted into a deleted controller after quit)."""
    shell = shell_factory()
    wallet = open_wallet(paths, keyring_store, NetworkKind.DEVNET, None)

    async def reopen_then_stop() -> list[asyncio.Task[Any]]:
        shell._on_node_wallet_reopened(wallet)
        await shell.wallet.stop()
        return [t for t in asyncio.all_tasks()
                if t.get_name().startswith("wallet.") and not t.done()]

    assert run_async(reopen_then_stop()) == []
