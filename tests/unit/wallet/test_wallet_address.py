"""Address parsing: every form, every error a user can make, the network check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocoon_desktop.wallet.address import (
    MASTERCHAIN_WARNING,
    AddressForm,
    TonAddress,
    canonical_owner_address,
    check_network,
    parse_address,
)
from cocoon_desktop.wallet.errors import AddressError
from cocoon_desktop.wallet.networks import TonNetwork, ton_network_for

# One account (the V4R2 vector wallet) in all its forms.
BOUNCEABLE = "EQDnBF4JTFKHTYjulEJyNd4dstLGH1m51UrLdu01_tw4z2Au"
ACCOUNT = parse_address(BOUNCEABLE).address


def test_all_forms_of_one_account_parse_to_the_same_account() -> None:
    forms = {
        ACCOUNT.raw: (None, None),
        ACCOUNT.friendly(bounceable=True, test_only=False): (True, False),
        ACCOUNT.friendly(bounceable=False, test_only=False): (False, False),
        ACCOUNT.friendly(bounceable=True, test_only=True): (True, True),
        ACCOUNT.friendly(bounceable=False, test_only=True): (False, True),
        ACCOUNT.friendly(bounceable=False, test_only=False, url_safe=False): (False, False),
    }
    prefixes = {"EQ", "UQ", "kQ", "0Q"}
    assert {f[:2] for f in forms if not f.startswith("0:")} >= prefixes
    for text, (bounceable, test_only) in forms.items():
        parsed = parse_address(text)
        assert parsed.address == ACCOUNT
        assert (parsed.bounceable, parsed.test_only) == (bounceable, test_only)
        assert parsed.form is (AddressForm.RAW if ":" in text else AddressForm.FRIENDLY)


def test_raw_form_is_lowercase_workchain_colon_hex() -> None:
    assert ACCOUNT.raw == "0:" + ACCOUNT.hash_part.hex()
    assert parse_address(ACCOUNT.raw.upper()).address == ACCOUNT


def test_pasted_whitespace_and_ton_links_are_accepted() -> None:
    broken = BOUNCEABLE[:20] + "\n  " + BOUNCEABLE[20:] + " \t"
    assert parse_address(broken).address == ACCOUNT
    assert parse_address(f"ton://transfer/{BOUNCEABLE}?amount=1000").address == ACCOUNT
    # copied from a web page or a chat: invisible characters are no part of it
    assert parse_address("\ufeff" + BOUNCEABLE[:24] + "\u200b" + BOUNCEABLE[24:]).address == ACCOUNT


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "No address"),
        ("   ", "No address"),
        (BOUNCEABLE[:-1], "48 characters; this one has 47"),
        (BOUNCEABLE + "A", "48 characters; this one has 49"),
        (BOUNCEABLE[:10] + "!" + BOUNCEABLE[11:], "never has (!)"),
        (BOUNCEABLE[:-2] + ("AA" if BOUNCEABLE[-2:] != "AA" else "BB"), "checksum"),
        ("0:" + "ab" * 31, "62 hexadecimal digits instead of 64"),
        ("0:" + "zz" * 32, "malformed"),
        ("5:" + "ab" * 32, "Workchain 5 is not in use"),
        ("\u0660:" + "ab" * 32, "malformed"),  # an Arabic-Indic zero was read as workchain 0
        ("\uff10:" + "ab" * 32, "malformed"),  # a fullwidth zero too
        (BOUNCEABLE[:10] + "\x00" + BOUNCEABLE[11:], "never has (U+0000)"),
        (BOUNCEABLE[:10] + "\ud800" + BOUNCEABLE[11:], "never has (U+D800)"),  # was printed raw
        (" ".join(["word"] * 24), "list of words"),
    ],
)
def test_malformed_addresses_say_what_is_wrong_and_what_to_do(text: str, fragment: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_address(text)
    assert fragment in str(info.value)
    assert info.value.what_to_do  # every error says what to do next


def test_a_mistyped_character_fails_the_checksum() -> None:
    index = 20
    swapped = "B" if BOUNCEABLE[index] != "B" else "C"
    with pytest.raises(AddressError, match="checksum"):
        parse_address(BOUNCEABLE[:index] + swapped + BOUNCEABLE[index + 1 :])


def test_unknown_flag_byte_and_bad_workchain_byte_are_refused() -> None:
    import base64
    import binascii

    def encode(tag: int, workchain_byte: int) -> str:
        body = bytes([tag, workchain_byte]) + ACCOUNT.hash_part
        return base64.urlsafe_b64encode(
            body + binascii.crc_hqx(body, 0).to_bytes(2, "big")
        ).decode()

    with pytest.raises(AddressError, match="unknown flags"):
        parse_address(encode(0x22, 0))
    with pytest.raises(AddressError, match="Workchain 7"):
        parse_address(encode(0x11, 7))


def test_masterchain_addresses_parse_with_a_warning() -> None:
    master = TonAddress(-1, ACCOUNT.hash_part)
    parsed = parse_address(master.friendly(bounceable=True, test_only=False))
    assert parsed.address.workchain == -1
    assert MASTERCHAIN_WARNING in parsed.warnings
    assert parse_address(master.raw).warnings == (MASTERCHAIN_WARNING,)
    assert parse_address(BOUNCEABLE).warnings == ()


def test_network_check() -> None:
    test_only = parse_address(ACCOUNT.friendly(bounceable=False, test_only=True))
    with pytest.raises(AddressError, match="test-only"):
        check_network(test_only, TonNetwork.MAINNET)
    assert check_network(test_only, TonNetwork.TESTNET) == ()
    mainnet_form = parse_address(BOUNCEABLE)
    assert check_network(mainnet_form, TonNetwork.MAINNET) == ()
    (warning,) = check_network(mainnet_form, TonNetwork.TESTNET)
    assert ACCOUNT.wallet_form(TonNetwork.TESTNET) in warning
    assert check_network(parse_address(ACCOUNT.raw), TonNetwork.MAINNET) == ()
    assert check_network(test_only, None) == ()  # the devnet settles nothing on a chain


def test_canonical_owner_address_is_the_wallet_form_of_the_network_served() -> None:
    assert canonical_owner_address(BOUNCEABLE, "mainnet").startswith("UQ")
    assert canonical_owner_address(ACCOUNT.raw, "testnet").startswith("0Q")
    assert canonical_owner_address(BOUNCEABLE, "devnet").startswith("0Q")
    with pytest.raises(ValueError, match="test-only"):  # the wizard catches ValueError
        canonical_owner_address(ACCOUNT.friendly(bounceable=True, test_only=True), "mainnet")


def test_ton_network_for_serving_choices() -> None:
    assert ton_network_for("mainnet") is TonNetwork.MAINNET
    assert ton_network_for("testnet") is TonNetwork.TESTNET
    assert ton_network_for("devnet") is None
    assert TonNetwork.MAINNET.global_id == -239 and TonNetwork.TESTNET.global_id == -3


def test_friendly_form_agrees_with_pytoniq() -> None:
    theirs = ACCOUNT.to_pytoniq()
    for bounceable in (True, False):
        for test_only in (True, False):
            assert ACCOUNT.friendly(bounceable=bounceable, test_only=test_only) == theirs.to_str(
                is_bounceable=bounceable, is_test_only=test_only
            )


@given(
    workchain=st.sampled_from([0, -1]),
    hash_part=st.binary(min_size=32, max_size=32),
    bounceable=st.booleans(),
    test_only=st.booleans(),
)
def test_friendly_round_trip(
    workchain: int, hash_part: bytes, bounceable: bool, test_only: bool
) -> None:
    address = TonAddress(workchain, hash_part)
    text = address.friendly(bounceable=bounceable, test_only=test_only)
    parsed = parse_address(text)
    assert len(text) == 48
    assert (parsed.address, parsed.bounceable, parsed.test_only) == (
        address, bounceable, test_only,
    )
    assert parse_address(address.raw).address == address
