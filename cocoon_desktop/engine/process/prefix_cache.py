"""Prompt-prefix reuse: each sequence slot remembers the tokens its KV cache holds.

A new request gets the free slot whose remembered tokens share the longest prefix with its
prompt; that prefix's KV is kept and the rest dropped, so a follow-up chat turn (the previous
prompt and answer plus one more message) decodes only the new part. With no shared prefix the
least recently used free slot is taken, keeping the fresher caches for later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading tokens `a` and `b` share."""
    limit = min(len(a), len(b))
    index = 0
    while index < limit and a[index] == b[index]:
        index += 1
    return index


@dataclass
class SlotMemory:
    """One sequence's KV contents: `tokens[i]` sits at position i of sequence `seq_id`."""

    seq_id: int
    tokens: list[int] = field(default_factory=list)
    last_used_step: int = -1
    busy: bool = False


@dataclass(frozen=True)
class SlotChoice:
    """The slot given to a request and how many of its prompt tokens are already cached."""

    slot: SlotMemory
    reusable_tokens: int


class PrefixCache:
    """Picks slots for new prompts and keeps the token record in step with the KV cache."""

    def __init__(self, capacity: int) -> None:
        self.slots = [SlotMemory(seq_id) for seq_id in range(capacity)]

    def free_count(self) -> int:
        return sum(not slot.busy for slot in self.slots)

    def choose(self, prompt: Sequence[int]) -> SlotChoice | None:
        """The free slot with the longest common prefix (ties: least recently used), or None.

        At least one prompt token is always left to decode, because the logits for the first
        generated token come from decoding the prompt's last token.
        """
        best: SlotChoice | None = None
        for slot in self.slots:
            if slot.busy:
                continue
            shared = min(common_prefix_length(slot.tokens, prompt), len(prompt) - 1)
            if (best is None or shared > best.reusable_tokens
                    or (shared == best.reusable_tokens
                        and slot.last_used_step < best.slot.last_used_step)):
                best = SlotChoice(slot, shared)
        return best
