"""A local Cocoon test network: proxy, client and OpenAI-compatible endpoint on loopback.

`cocoon-desktop-cli devnet` runs it (see `cli.py`); tests use `network.start_devnet()`.
"""

from cocoon_desktop.network.devnet.cli import add_arguments, run

__all__ = ["add_arguments", "run"]
