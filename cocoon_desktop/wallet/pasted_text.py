"""Text a person pasted: copied from a web page, a chat or a PDF, words and addresses can carry
invisible characters (zero-width spaces and joiners, a byte-order mark) that are no part of
them and that no one can see to delete."""

from __future__ import annotations

_INVISIBLE = dict.fromkeys((0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF))


def without_invisible(text: str) -> str:
    """`text` without zero-width spaces, joiners and byte-order marks."""
    return text.translate(_INVISIBLE)
