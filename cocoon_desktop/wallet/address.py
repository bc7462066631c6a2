"""TON addresses: parse every form a user may paste, explain what is wrong, show one canonical form.

Forms accepted: raw `0:<64 hex>`, user-friendly base64 (url-safe or standard) with its flags
(bounceable `EQ…`, non-bounceable `UQ…`, test-only `kQ…`/`0Q…`), and `ton://transfer/<address>`
links. Whitespace inside a pasted address (line breaks from a PDF or a chat) is ignored.

User-friendly layout: 1 flag byte (0x11 bounceable, 0x51 non-bounceable, +0x80 test-only),
1 workchain byte, 32 hash bytes, 2 bytes of CRC16/XMODEM over the first 34: 36 bytes, 48 base64
characters.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from enum import StrEnum

from pytoniq_core import Address

from cocoon_desktop.wallet.errors import AddressError
from cocoon_desktop.wallet.networks import TonNetwork, ton_network_for
from cocoon_desktop.wallet.pasted_text import without_invisible

BASECHAIN = 0
MASTERCHAIN = -1
FRIENDLY_LENGTH = 48
_TAG_BOUNCEABLE = 0x11
_TAG_NON_BOUNCEABLE = 0x51
_TAG_TEST_ONLY = 0x80
_FRIENDLY_CHARS = re.compile(r"^[A-Za-z0-9+/_\-]*={0,2}$")
_RAW = re.compile(r"^(-?[0-9]+):([0-9a-fA-F]*)$")  # ASCII digits: int() takes any
_LINK_PREFIX = re.compile(r"^ton://transfer/", re.IGNORECASE)

MASTERCHAIN_WARNING = (
    "This is a masterchain (-1) address. Wallets normally live in the basechain (0) and "
    "masterchain transactions cost more; continue only if you meant this address."
)


class AddressForm(StrEnum):
    RAW = "raw"
    FRIENDLY = "friendly"


@dataclass(frozen=True)
class TonAddress:
    """An account on TON: a workchain and a 32-byte account id. Never secret."""

    workchain: int
    hash_part: bytes

    def __post_init__(self) -> None:
        if self.workchain not in (BASECHAIN, MASTERCHAIN) or len(self.hash_part) != 32:
            raise AddressError(
                "This is not a TON account address.",
                "Use an address in workchain 0 or -1 with a 32-byte account id.",
            )

    @property
    def raw(self) -> str:
        """The raw form `0:<64 hex>`; it carries no flags."""
        return f"{self.workchain}:{self.hash_part.hex()}"

    def friendly(self, *, bounceable: bool, test_only: bool, url_safe: bool = True) -> str:
        """The 48-character user-friendly form with the given flags."""
        tag = _TAG_BOUNCEABLE if bounceable else _TAG_NON_BOUNCEABLE
        if test_only:
            tag |= _TAG_TEST_ONLY
        body = bytes([tag, self.workchain & 0xFF]) + self.hash_part
        data = body + binascii.crc_hqx(body, 0).to_bytes(2, "big")
        encode = base64.urlsafe_b64encode if url_safe else base64.b64encode
        return encode(data).decode("ascii")

    def for_network(self, network: TonNetwork | None, *, bounceable: bool) -> str:
        """The form to show on `network`: test-only flag on testnet (and on the devnet)."""
        return self.friendly(bounceable=bounceable, test_only=network is not TonNetwork.MAINNET)

    def wallet_form(self, network: TonNetwork | None) -> str:
        """How a user wallet is shown: non-bounceable (`UQ…`, `0Q…` on testnet)."""
        return self.for_network(network, bounceable=False)

    def contract_form(self, network: TonNetwork | None) -> str:
        """How a contract is shown: bounceable (`EQ…`, `kQ…` on testnet), as upstream logs it."""
        return self.for_network(network, bounceable=True)

    def to_pytoniq(self) -> Address:
        return Address((self.workchain, self.hash_part))

    @classmethod
    def from_pytoniq(cls, address: Address) -> TonAddress:
        return cls(address.wc, bytes(address.hash_part))


@dataclass(frozen=True)
class ParsedAddress:
    """What the user pasted, understood: the account and the flags the text carried."""

    address: TonAddress
    form: AddressForm
    bounceable: bool | None = None  # None for the raw form (no flags)
    test_only: bool | None = None
    warnings: tuple[str, ...] = field(default=())


def parse_address(text: str) -> ParsedAddress:
    """Parse any TON address form; raise AddressError saying what is wrong and what to do."""
    cleaned = "".join(without_invisible(text).split())
    cleaned = _LINK_PREFIX.sub("", cleaned).split("?", 1)[0]
    if not cleaned:
        raise AddressError("No address was entered.", "Paste the TON address from your wallet.")
    if len(text.split()) >= 12:
        raise AddressError(
            "This looks like a list of words, not an address.",
            "Never paste your secret words here; copy the address (UQ… or EQ…) from your wallet.",
        )
    parsed = _parse_raw(cleaned) if ":" in cleaned else _parse_friendly(cleaned)
    if parsed.address.workchain == MASTERCHAIN:
        return ParsedAddress(
            parsed.address, parsed.form, parsed.bounceable, parsed.test_only,
            (*parsed.warnings, MASTERCHAIN_WARNING),
        )
    return parsed


def _parse_raw(text: str) -> ParsedAddress:
    match = _RAW.match(text)
    if match is None:
        raise AddressError(
            "This raw address is malformed.",
            "A raw address is a workchain, a colon and 64 hexadecimal digits, e.g. 0:83df…; "
            "copy it again.",
        )
    workchain, hex_part = int(match.group(1)), match.group(2)
    _check_workchain(workchain)
    if len(hex_part) != 64:
        raise AddressError(
            f"The account id of this raw address has {len(hex_part)} hexadecimal digits "
            "instead of 64.",
            "A character was lost or added while copying; copy the address again.",
        )
    return ParsedAddress(TonAddress(workchain, bytes.fromhex(hex_part)), AddressForm.RAW)


def _parse_friendly(text: str) -> ParsedAddress:
    if not _FRIENDLY_CHARS.match(text):
        bad = sorted({c for c in text if not (c.isascii() and (c.isalnum() or c in "+/_-="))})
        shown = " ".join(c if c.isprintable() else f"U+{ord(c):04X}" for c in bad)
        raise AddressError(
            f"This address contains characters a TON address never has ({shown}).",
            "Copy the address again from your wallet, without quotes or punctuation.",
        )
    if len(text) != FRIENDLY_LENGTH:
        raise AddressError(
            f"A TON address has {FRIENDLY_LENGTH} characters; this one has {len(text)}.",
            "Part of it was lost or added while copying; copy the whole address again.",
        )
    data = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    tag, workchain_byte = data[0], data[1]
    if binascii.crc_hqx(data[:34], 0).to_bytes(2, "big") != data[34:]:
        raise AddressError(
            "The address checksum does not match: a character was mistyped or changed.",
            "Copy the address again from your wallet instead of typing it.",
        )
    test_only = bool(tag & _TAG_TEST_ONLY)
    flags = tag & ~_TAG_TEST_ONLY
    if flags not in (_TAG_BOUNCEABLE, _TAG_NON_BOUNCEABLE):
        raise AddressError(
            "This address has unknown flags, so it is not a TON account address.",
            "Copy the address (starting with UQ, EQ, 0Q or kQ) from your wallet.",
        )
    workchain = workchain_byte - 256 if workchain_byte > 127 else workchain_byte
    _check_workchain(workchain)
    return ParsedAddress(
        TonAddress(workchain, data[2:34]), AddressForm.FRIENDLY,
        bounceable=flags == _TAG_BOUNCEABLE, test_only=test_only,
    )


def _check_workchain(workchain: int) -> None:
    if workchain not in (BASECHAIN, MASTERCHAIN):
        raise AddressError(
            f"Workchain {workchain} is not in use on TON (only 0 and -1 are).",
            "Check that this is a TON address; wallets use workchain 0.",
        )


def check_network(parsed: ParsedAddress, network: TonNetwork | None) -> tuple[str, ...]:
    """Check a parsed address against the network the user serves; return warnings.

    Raises AddressError for a test-only address while serving mainnet (wallets refuse to pay
    such an address on mainnet; it was copied from a testnet wallet).
    """
    if network is TonNetwork.MAINNET and parsed.test_only:
        raise AddressError(
            "This address is marked test-only (testnet), but you serve mainnet.",
            "Copy your mainnet address (it starts with UQ or EQ) from your wallet.",
        )
    mainnet_form = parsed.form is AddressForm.FRIENDLY and not parsed.test_only
    if network is TonNetwork.TESTNET and mainnet_form:
        return (
            "This address is written in the mainnet form; on testnet the same account is "
            f"{parsed.address.wallet_form(network)}. Make sure this wallet is yours on testnet.",
        )
    return ()


def canonical_owner_address(text: str, serving: str) -> str:
    """Parse an owner (payout) address for the network served and return its canonical form.

    This is the wizard's address parser: it raises AddressError (a ValueError) saying why.
    """
    parsed = parse_address(text)
    network = ton_network_for(serving)
    check_network(parsed, network)
    return parsed.address.wallet_form(network)
