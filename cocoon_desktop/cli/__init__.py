"""Command-line entry points: `cocoon-desktop` (the GUI) and `cocoon-desktop-cli` (everything).

Each subcommand lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`;
modules are imported only when their command runs, so `doctor` or `serve` never load Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cocoon_desktop import __version__

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("cocoon_desktop.ui.app", "start the desktop app (the default)"),
    "serve": ("cocoon_desktop.headless.command", "serve Cocoon jobs without a GUI (rigs, systemd)"),
    "devnet": ("cocoon_desktop.cli.devnet", "run a local Cocoon test network on loopback"),
    "doctor": ("cocoon_desktop.cli.doctor", "check what this machine can serve, and why"),
    "earnings": ("cocoon_desktop.cli.earnings", "earnings, payouts reconciled, CSV export"),
    "engine": ("cocoon_desktop.engine.process.server",
               "run the inference engine process (internal)"),
    "self-test": ("cocoon_desktop.cli.selftest", "check an installed app end to end, then exit"),
    "wallet": ("cocoon_desktop.cli.wallet", "owner address, node wallet key, balances, withdraw"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cocoon-desktop", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--headless", action="store_true", help="same as the `serve` command: run without a GUI"
    )
    parser.add_argument(
        "--self-test", action="store_true", help="same as the `self-test` command"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command, then hand the rest of the arguments to that command's module."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--self-test"]:  # the alias: every later argument is the self-test's
        args[0] = "self-test"
    if args[:1] == ["--headless"]:  # the alias: every later argument is serve's
        args[0] = "serve"
    parser = build_parser()
    known, rest = parser.parse_known_args(args)
    command = known.command or ("serve" if known.headless else "gui")
    if known.command:
        # Everything after the command name belongs to the command.
        rest = args[args.index(known.command) + 1 :]
    module = importlib.import_module(COMMANDS[command][0])
    cmd_parser = argparse.ArgumentParser(prog=f"cocoon-desktop {command}")
    module.add_arguments(cmd_parser)
    return int(module.run(cmd_parser.parse_args(rest)) or 0)


def gui_main() -> int:
    """The `cocoon-desktop` GUI script: no command means the desktop app."""
    return main(sys.argv[1:])
