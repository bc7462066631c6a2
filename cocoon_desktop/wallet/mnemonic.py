"""TON mnemonics (24 words): create, check with clear errors, turn into an Ed25519 key pair.

TON's scheme is not BIP39 although it uses the same English word list: the words are valid when
PBKDF2(HMAC-SHA512(words), "TON seed version") starts with a zero byte, and the key seed is
PBKDF2(HMAC-SHA512(words), "TON default seed", 100000)[:32] (pytoniq-core implements both).
Deriving a key takes about 0.1 s of CPU: call it off the UI thread.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

from nacl.bindings import crypto_sign_seed_keypair
from pytoniq_core.crypto import keys as ton_keys

from cocoon_desktop.core.logs import register_secret
from cocoon_desktop.wallet.errors import MnemonicError
from cocoon_desktop.wallet.pasted_text import without_invisible

WORD_COUNT = 24
WORDLIST: tuple[str, ...] = tuple(ton_keys.words)
_WORDSET = frozenset(WORDLIST)
# Alphabets with letters drawn like Latin ones (a Cyrillic "а" for an "a"): the word looks right.
_LOOK_ALIKE_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC"})
# "1. word", "1) word", "word," … as copied from a wallet's backup screen.
_NUMBERING = re.compile(r"^\d+[.)]?$")


@dataclass(frozen=True)
class KeyPair:
    """An Ed25519 key pair. `seed` is the 32-byte private seed: a secret, never shown in repr."""

    public_key: bytes
    seed: bytes = field(repr=False)


def create_mnemonic() -> list[str]:
    """24 fresh words from the OS's secure random source, valid for TON (no password)."""
    words = ton_keys.mnemonic_new(WORD_COUNT)
    register_secret(" ".join(words))
    return words


def normalize_words(text: str) -> list[str]:
    """Split pasted words: any spacing, commas, numbering ("1." "2)") and case are accepted, so
    are invisible characters and fullwidth letters (NFKC: an East Asian input method's)."""
    text = unicodedata.normalize("NFKC", without_invisible(text))
    tokens = re.split(r"[\s,;]+", text.strip().lower())
    return [t for t in tokens if t and not _NUMBERING.match(t)]


def check_mnemonic(words: list[str]) -> None:
    """Raise MnemonicError saying what is wrong with `words`, or return if they are valid.

    This is the wizard's mnemonic checker. Errors name positions and suggestions only, never a
    typed word.
    """
    if not words:
        raise MnemonicError(
            "empty", "No secret words were entered.", "Type or paste your 24 words."
        )
    for position, word in enumerate(words, start=1):
        if word not in _WORDSET:
            nearest = tuple(difflib.get_close_matches(word, WORDLIST, n=3, cutoff=0.6))
            # The suggestions stay out of the message (they are close to a secret word): the
            # UI offers them from `suggestions`, next to the word's field.
            raise MnemonicError(
                "unknown_word", f"Word #{position} is not in the TON word list.",
                (_foreign_letters(word) or "Check its spelling against your written copy")
                + ("; the nearest valid words are offered." if nearest else "."),
                position=position, suggestions=nearest,
            )
    if len(words) != WORD_COUNT:
        other = " (12 or 18 words is a BIP39 phrase from another blockchain)" if len(
            words) in (12, 18) else ""
        raise MnemonicError(
            "word_count",
            f"A TON wallet has {WORD_COUNT} secret words; {len(words)} were entered{other}.",
            "Enter all 24 words of your TON wallet, in order.",
        )
    entropy = ton_keys.mnemonic_to_entropy(words)
    if not ton_keys.is_basic_seed(entropy):
        if _is_password_seed(entropy):
            raise MnemonicError(
                "password",
                "These words belong to a TON wallet protected by an extra password.",
                "Password-protected phrases are not supported; use a wallet without one.",
            )
        raise MnemonicError(
            "checksum",
            "These 24 words are all valid, but they are not a TON secret phrase: two words "
            "may be swapped, one mistyped into another valid word, or the phrase comes from "
            "another blockchain.",
            "Compare each word and its order with your written copy.",
        )


def _foreign_letters(word: str) -> str | None:
    """What to do when the word has a letter outside a-z, naming only its alphabet (the
    message must not carry the typed word); None when it has none."""
    for char in word:
        if char.isalpha() and not char.isascii():
            script = unicodedata.name(char, "UNKNOWN").split()[0]  # "CYRILLIC", "CJK"
            if script == "LATIN":
                return "It has an accented letter: TON words use plain a-z only"
            alphabet = script if len(script) <= 3 else script.title()
            if script in _LOOK_ALIKE_SCRIPTS:
                alphabet += "; some of its letters look like Latin ones"
            return (f"It has letters of another alphabet ({alphabet}): TON words are English "
                    "words in Latin letters a-z, so switch the keyboard to English and type "
                    "it again")
    return None


def parse_mnemonic(text: str) -> list[str]:
    """Normalise and check pasted words; return them (registered as a secret for the logs)."""
    words = normalize_words(text)
    check_mnemonic(words)
    register_secret(" ".join(words))
    return words


def keypair_from_mnemonic(words: list[str]) -> KeyPair:
    """The wallet key pair of valid TON words (the same key every TON wallet app derives)."""
    check_mnemonic(words)
    public_key, secret_key = ton_keys.mnemonic_to_private_key(words)
    seed = bytes(secret_key[:32])
    register_secret(seed)
    return KeyPair(public_key=bytes(public_key), seed=seed)


def keypair_from_seed(seed: bytes) -> KeyPair:
    """The key pair of a 32-byte Ed25519 seed (a node wallet key)."""
    if len(seed) != 32:
        raise ValueError("an Ed25519 seed has 32 bytes")
    public_key, _ = crypto_sign_seed_keypair(seed)
    return KeyPair(public_key=bytes(public_key), seed=bytes(seed))


def _is_password_seed(entropy: bytes) -> bool:
    """TON's marker of a password-protected phrase (first byte 1 after the fast check)."""
    seed = hashlib.pbkdf2_hmac("sha512", entropy, b"TON fast seed version", 1)
    return seed[0] == 1
