"""`cocoon-desktop-cli wallet …`: the wallet for headless rigs (no GUI).

    wallet show                          owner, node wallet, full wallet addresses (offline)
    wallet link-owner ADDRESS            set the payout (owner) address
    wallet node-key create|export|import [--replace]
                                         import reads the key from stdin (not the shell history)
    wallet balance                       node wallet and owner balances (last known when offline)
    wallet withdraw --to ADDRESS --amount TON|all [--comment TEXT] [--from node|full] [--yes]
    wallet forget node|full|all --yes

The network and the TON config come from the app's settings (`--network` overrides). Exit codes:
0 done, 1 it could not be done (the reason is printed), 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from cocoon_desktop.core.paths import app_paths
from cocoon_desktop.protocol.money import format_ton
from cocoon_desktop.settings import load_settings
from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.contracts import WalletContract, WalletVersion
from cocoon_desktop.wallet.errors import WalletError
from cocoon_desktop.wallet.manager import WalletManager
from cocoon_desktop.wallet.networks import ton_network_for
from cocoon_desktop.wallet.registry import WalletRegistry
from cocoon_desktop.wallet.secret_store import SecretStore
from cocoon_desktop.wallet.withdraw import plan_transfer

PROG = "cocoon-desktop wallet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "The TON wallets of this worker: owner address, node wallet, payouts."
    parser.add_argument("--network", choices=["mainnet", "testnet", "devnet"],
                        help="the network (default: the one in the settings)")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("show", help="owner, node wallet and full wallet addresses")
    link = sub.add_parser("link-owner", help="set the payout (owner) address")
    link.add_argument("address")
    key = sub.add_parser("node-key", help="create, export or import the node wallet key")
    key.add_argument("what", choices=["create", "export", "import"])
    key.add_argument("--replace", action="store_true", help="import over a different key")
    sub.add_parser("balance", help="balances of the node wallet and the owner address")
    withdraw = sub.add_parser("withdraw", help="send TON from the node wallet or full wallet")
    withdraw.add_argument("--to", required=True, metavar="ADDRESS")
    withdraw.add_argument("--amount", required=True, metavar="TON", help='TON, or "all"')
    withdraw.add_argument("--comment", default="")
    withdraw.add_argument("--from", dest="source", choices=["node", "full"], default="node")
    withdraw.add_argument("--yes", action="store_true", help="send without asking")
    forget = sub.add_parser("forget", help="remove wallets and their secrets from this machine")
    forget.add_argument("what", choices=["node", "full", "all"])
    forget.add_argument("--yes", action="store_true", help="required: this cannot be undone")


def run(args: argparse.Namespace) -> int:
    paths = app_paths().ensure()
    settings = load_settings(paths.settings_file).settings
    network = ton_network_for(args.network or settings.network)
    manager = WalletManager(WalletRegistry(paths.data_dir), SecretStore(prompt_to_unlock=False),
                            network)
    config = Path(settings.ton_config_path) if settings.ton_config_path else None
    try:
        if args.action in ("balance", "withdraw"):
            if network is None:
                return _fail("The local devnet has no chain: there is no balance to read.")
            chain = ChainService(network, cache_dir=paths.cache_dir, config_file=config)
            return asyncio.run(_with_chain(args, manager, chain))
        return _offline(args, manager)
    except WalletError as error:  # bad input (a ValueError kind) exits 2, the rest 1
        return _fail(str(error), 2 if isinstance(error, ValueError) else 1)


def _offline(args: argparse.Namespace, manager: WalletManager) -> int:
    if args.action == "show":
        _show(manager)
    elif args.action == "link-owner":
        link = manager.link_owner(args.address)
        print(f"Owner address: {link.address}")
        if link.node_wallet_address:
            print(f"Node wallet:   {link.node_wallet_address}")
        for warning in link.warnings:
            print(f"Note: {warning}")
    elif args.action == "node-key":
        return _node_key(args, manager)
    elif args.action == "forget":
        if not args.yes:
            print(f"{PROG}: add --yes: forgetting removes the secrets from this machine; keep a "
                  "backup first (node-key export, or your written words).", file=sys.stderr)
            return 2
        {"node": manager.forget_node_wallet, "full": manager.forget_full_wallet,
         "all": manager.forget_everything}[args.what]()
        print("Forgotten.")
    return 0


def _show(manager: WalletManager) -> None:
    network = manager.network
    owner = manager.owner_address()
    print(f"Network:       {network.value if network else 'devnet (no chain)'}")
    print(f"Owner address: {owner.wallet_form(network) if owner else '(not linked)'}")
    node = manager.node_wallet()
    print(f"Node wallet:   {(node.address or '(link the owner first)') if node else '(none)'}")
    for past in node.past_addresses if node else ():
        print(f"  under an earlier owner: {past}")
    full = manager.full_wallet()
    if full:
        for version, address in full.addresses.items():
            mark = " (preferred)" if version is full.preferred_version else ""
            print(f"Full wallet {version.value}: {address}{mark}")


def _node_key(args: argparse.Namespace, manager: WalletManager) -> int:
    if args.what == "create":
        info = manager.ensure_node_wallet()
        print(f"Node wallet: {info.address or '(link the owner address to get its address)'}")
    elif args.what == "export":
        print(manager.export_node_key())  # the user asked for it, on their own terminal
    else:
        text = sys.stdin.readline()
        info = manager.import_node_key(text, replace=args.replace)
        print(f"Imported. Node wallet: {info.address or '(link the owner address)'}")
    return 0


async def _with_chain(
    args: argparse.Namespace, manager: WalletManager, chain: ChainService
) -> int:
    try:
        if args.action == "balance":
            return await _balance(manager, chain)
        return await _withdraw(args, manager, chain)
    finally:
        await chain.close()


async def _balance(manager: WalletManager, chain: ChainService) -> int:
    rows: list[tuple[str, TonAddress, WalletVersion | None]] = []
    if manager.node_wallet() and manager.owner_address():
        rows.append(("Node wallet", manager.node_wallet_contract().address, WalletVersion.NODE))
    owner = manager.owner_address()
    if owner:
        rows.append(("Owner", owner, None))
    for label, address, version in rows:
        reading = await chain.read_account(address, version)
        snap = reading.snapshot
        amount = f"{format_ton(snap.balance_nano)}" if snap else "unknown"
        age = "" if reading.fresh or snap is None else f" (as of {snap.age_s():.0f} s ago)"
        print(f"{label}: {amount}{age}")
    if chain.state.status.value != "online":
        print(f"Chain: {chain.state.message}")
        return 1
    return 0


async def _withdraw(args: argparse.Namespace, manager: WalletManager, chain: ChainService) -> int:
    contract: WalletContract
    if args.source == "node":
        contract, key = manager.node_wallet_contract(), manager.node_wallet_key()
    else:
        contract, key = manager.full_wallet_contract(), manager.full_wallet_key()
    reading = await chain.read_account(contract.address, contract.version)
    if not reading.fresh or reading.snapshot is None:
        return _fail(f"The wallet's current state cannot be read: {chain.state.message}")
    confirmation = plan_transfer(contract, key, reading.snapshot, args.to, args.amount,
                                 args.comment, shard_account=reading.shard_account)
    for label, value in confirmation.summary_lines():
        print(f"{label + ':':<13} {value}")
    for warning in confirmation.warnings:
        print(f"Note: {warning}")
    if not args.yes and input("Send? [y/N] ").strip().lower() not in ("y", "yes"):
        print("Not sent.")
        return 1
    outcome = await chain.send(confirmation.transfer.boc)
    print(outcome.message)
    return 0 if outcome.sent else 1


def _fail(message: str, code: int = 1) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code
