"""A local Cocoon test network: proxy, client and OpenAI-compatible endpoint on loopback.

`cocoon-desktop-cli devnet` runs it (`cli/devnet.py`); tests use `network.start_devnet()`.
"""
