"""TON wallets for a Cocoon worker: addresses, keys in the OS keyring, the chain, transfers.

Never imports Qt. The UI's adapter (`ui/controllers/wallet.py`) calls `WalletManager` (blocking:
keyring, key derivation) and `ChainService` (asyncio); the wizard uses
`address.canonical_owner_address` and `mnemonic.check_mnemonic`. See docs/areas/wallet.md.
"""
