"""Prompt-prefix reuse: each sequence slot remembers the tokens its KV cache holds.

A new request gets the free slot whose remembered tokens share the longest prefix with its
prompt; that prefix's KV is kept and the rest dropped, so a follow-up chat turn (the previous
prompt and answer plus one more message) decodes only the new part. With no shared prefix the
least recently used free slot is taken, keeping the fresher caches for later.

When another slot, busy or not, holds a clearly longer prefix (many jobs start with the same
system prompt), the choice names it as `source`: its KV is copied into the chosen slot instead
of decoding the prefix again. A copy moves a sequence's whole KV stream, so it is chosen only
for a prefix of at least `copy_threshold(context per sequence)` tokens more than the slot's own.

`compaction` plans the moves that keep busy slots one run of consecutive ids (why, and how a
move is made: `engine.process.compaction`); a move swaps two slots' contents (`move`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
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
    """The slot given to a request and how many of its prompt tokens are already cached
    (in the slot itself, or in `source`, whose KV is to be copied into it first)."""

    slot: SlotMemory
    reusable_tokens: int
    source: SlotMemory | None = None


def copy_threshold(context_tokens_per_sequence: int) -> int:
    """Fewest extra prefix tokens worth copying a whole KV stream of that many cells for:
    decoding one token costs far more than copying one cell, but the copy moves every cell."""
    return max(16, context_tokens_per_sequence // 64)


class PrefixCache:
    """Picks slots for new prompts and keeps the token record in step with the KV cache."""

    def __init__(self, capacity: int, *, copy_from: int | None = None) -> None:
        """`copy_from`: extra shared tokens from which another slot's KV is copied (None:
        never copy)."""
        self.slots = [SlotMemory(seq_id) for seq_id in range(capacity)]
        self._copy_from = copy_from

    def free_count(self) -> int:
        return sum(not slot.busy for slot in self.slots)

    def choose(self, prompt: Sequence[int]) -> SlotChoice | None:
        """The free slot with the longest common prefix (ties: least recently used), or the
        least recently used free slot with another slot's longer prefix to copy; None when no
        slot is free.

        At least one prompt token is always left to decode, because the logits for the first
        generated token come from decoding the prompt's last token.
        """
        shared = {slot.seq_id: min(common_prefix_length(slot.tokens, prompt), len(prompt) - 1)
                  for slot in self.slots}
        free = [slot for slot in self.slots if not slot.busy]
        if not free:
            return None
        own = max(free, key=lambda slot: (shared[slot.seq_id], -slot.last_used_step))
        best = max(self.slots, key=lambda slot: shared[slot.seq_id])
        if (self._copy_from is not None and best is not own
                and shared[best.seq_id] >= shared[own.seq_id] + self._copy_from):
            target = min(free, key=lambda slot: slot.last_used_step)
            return SlotChoice(target, shared[best.seq_id], source=best)
        return SlotChoice(own, shared[own.seq_id])

    def compaction(self, movable: Collection[int]) -> list[tuple[SlotMemory, SlotMemory]]:
        """(busy slot, free slot) moves after which the busy slots are consecutive ids; [] when
        they already are, or when every such run would move a slot not in `movable`. The run
        that needs the fewest moves is chosen; ties: the one whose free slots hold the fewest
        cached tokens (they are carried to the slots the sequences leave)."""
        busy = [slot.seq_id for slot in self.slots if slot.busy]
        count = len(busy)
        if count < 2 or busy[-1] - busy[0] == count - 1:
            return []
        best: tuple[tuple[int, int], list[int], list[SlotMemory]] | None = None
        for start in range(len(self.slots) - count + 1):
            outside = [seq_id for seq_id in busy if not start <= seq_id < start + count]
            if any(seq_id not in movable for seq_id in outside):
                continue
            free = [slot for slot in self.slots[start:start + count] if not slot.busy]
            key = (len(outside), sum(len(slot.tokens) for slot in free))
            if best is None or key < best[0]:
                best = (key, outside, free)
        if best is None:
            return []
        _, outside, free = best
        return [(self.slots[seq_id], target) for seq_id, target in zip(outside, free, strict=True)]

    @staticmethod
    def move(source: SlotMemory, target: SlotMemory) -> None:
        """Record that the two slots' KV were swapped: `source`'s sequence now runs in `target`,
        and `target`'s cache is a free slot's in `source`."""
        source.tokens, target.tokens = target.tokens, source.tokens
        source.last_used_step, target.last_used_step = target.last_used_step, source.last_used_step
        target.busy, source.busy = True, False
