"""TON mnemonics: creation, every kind of bad input, and the key they give."""

from __future__ import annotations

from typing import Any

import pytest

from cocoon_desktop.wallet.errors import MnemonicError
from cocoon_desktop.wallet.mnemonic import (
    WORD_COUNT,
    WORDLIST,
    check_mnemonic,
    create_mnemonic,
    keypair_from_mnemonic,
    keypair_from_seed,
    normalize_words,
    parse_mnemonic,
)


def _vector_words(ton_vectors: list[dict[str, Any]]) -> list[str]:
    return next(v for v in ton_vectors if "mnemonic" in v)["mnemonic"].split()


def test_created_mnemonics_are_valid_and_different() -> None:
    first, second = create_mnemonic(), create_mnemonic()
    assert len(first) == WORD_COUNT and all(w in WORDLIST for w in first)
    check_mnemonic(first)
    assert first != second


def test_the_vector_mnemonic_gives_its_public_key(ton_vectors: list[dict[str, Any]]) -> None:
    vector = next(v for v in ton_vectors if "mnemonic" in v)
    key = keypair_from_mnemonic(vector["mnemonic"].split())
    assert key.public_key.hex() == vector["public_key_hex"]
    assert len(key.seed) == 32
    assert key.seed.hex() not in repr(key)


def test_seed_vectors_give_their_public_keys(ton_vectors: list[dict[str, Any]]) -> None:
    for vector in ton_vectors:
        if "ed25519_seed_hex" in vector and "public_key_hex" in vector:
            key = keypair_from_seed(bytes.fromhex(vector["ed25519_seed_hex"]))
            assert key.public_key.hex() == vector["public_key_hex"]


def test_pasted_words_are_normalised(ton_vectors: list[dict[str, Any]]) -> None:
    words = _vector_words(ton_vectors)
    numbered = "\n".join(f"{i}. {w.upper()}," for i, w in enumerate(words, start=1))
    assert normalize_words(numbered) == words
    assert parse_mnemonic("  " + "  ".join(words) + "\n") == words


def test_zero_width_and_fullwidth_characters_from_a_paste_are_dropped(
        ton_vectors: list[dict[str, Any]]) -> None:
    """Copied from a web page or a chat, words can carry zero-width spaces or joiners, and an
    East Asian input method types fullwidth letters: the same words, which used to be
    "not in the TON word list"."""
    words = _vector_words(ton_vectors)
    pasted = "\u200b ".join(words[:12]) + "\ufeff " + "\u2060 ".join(words[12:])
    assert parse_mnemonic(pasted) == words
    fullwidth = " ".join(words).translate({c: c + 0xFEE0 for c in range(ord("a"), ord("z") + 1)})
    assert parse_mnemonic(fullwidth) == words


def test_a_word_typed_in_another_alphabet_says_so(ton_vectors: list[dict[str, Any]]) -> None:
    words = _vector_words(ton_vectors)
    index = next(i for i, w in enumerate(words) if "a" in w or "e" in w or "o" in w)
    cyrillic = words[index].translate({ord("a"): "\u0430", ord("e"): "\u0435",
                                       ord("o"): "\u043e"})  # they look the same
    with pytest.raises(MnemonicError) as info:
        check_mnemonic([*words[:index], cyrillic, *words[index + 1:]])
    assert (info.value.kind, info.value.position) == ("unknown_word", index + 1)
    assert "Cyrillic" in info.value.what_to_do and "Latin" in info.value.what_to_do
    assert cyrillic not in str(info.value) and words[index] not in str(info.value)
    accented = words[index].replace("e", "\u00e9").replace("a", "\u00e1").replace("o", "\u00f3")
    with pytest.raises(MnemonicError) as info:
        check_mnemonic([*words[:index], accented, *words[index + 1:]])
    assert "accented letter" in info.value.what_to_do
    with pytest.raises(MnemonicError) as info:
        check_mnemonic([*words[:index], "\u4e00\u4e8c", *words[index + 1:]])
    assert "another alphabet (CJK)" in info.value.what_to_do


def test_empty_input() -> None:
    with pytest.raises(MnemonicError) as info:
        check_mnemonic([])
    assert info.value.kind == "empty"


@pytest.mark.parametrize("count", [23, 25, 12, 18])
def test_wrong_word_count(ton_vectors: list[dict[str, Any]], count: int) -> None:
    words = (_vector_words(ton_vectors) * 2)[:count]
    with pytest.raises(MnemonicError) as info:
        check_mnemonic(words)
    assert info.value.kind == "word_count"
    assert f"{count} were entered" in str(info.value)
    assert ("BIP39" in str(info.value)) is (count in (12, 18))


def test_unknown_word_names_its_position_and_offers_the_nearest(
    ton_vectors: list[dict[str, Any]],
) -> None:
    words = _vector_words(ton_vectors)
    typo = words[4][:-1] + ("x" if words[4][-1] != "x" else "y")  # e.g. "tongue" -> "tonguex"
    bad = [*words[:4], typo, *words[5:]]
    with pytest.raises(MnemonicError) as info:
        check_mnemonic(bad)
    error = info.value
    assert (error.kind, error.position) == ("unknown_word", 5)
    assert words[4] in error.suggestions
    # The message never carries the typed word nor the suggestions (they are near a secret).
    assert typo not in str(error) and words[4] not in str(error)


def test_unknown_word_far_from_any_word_has_no_suggestion(
    ton_vectors: list[dict[str, Any]],
) -> None:
    words = _vector_words(ton_vectors)
    with pytest.raises(MnemonicError) as info:
        check_mnemonic(["qqqqqqqqqq", *words[1:]])
    assert info.value.position == 1 and info.value.suggestions == ()


def test_swapped_words_fail_the_checksum(ton_vectors: list[dict[str, Any]]) -> None:
    words = _vector_words(ton_vectors)
    swapped = [words[1], words[0], *words[2:]]
    with pytest.raises(MnemonicError) as info:
        check_mnemonic(swapped)
    assert info.value.kind == "checksum"
    assert not any(w in str(info.value) for w in words)


def test_keypair_from_mnemonic_refuses_invalid_words(ton_vectors: list[dict[str, Any]]) -> None:
    words = _vector_words(ton_vectors)
    with pytest.raises(MnemonicError):
        keypair_from_mnemonic(words[:-1])


def test_password_protected_phrases_are_named_as_such() -> None:
    """Search (deterministically) for 24 words carrying TON's password-phrase marker."""
    import hashlib
    import random

    from pytoniq_core.crypto import keys as ton_keys

    rng = random.Random(7)
    for _ in range(20_000):
        words = [rng.choice(WORDLIST) for _ in range(WORD_COUNT)]
        entropy = ton_keys.mnemonic_to_entropy(words)
        marker = hashlib.pbkdf2_hmac("sha512", entropy, b"TON fast seed version", 1)[0]
        if marker == 1 and not ton_keys.is_basic_seed(entropy):
            break
    else:
        pytest.fail("no password-marked phrase found")
    with pytest.raises(MnemonicError) as info:
        check_mnemonic(words)
    assert info.value.kind == "password"
