"""Keeping the busy sequence slots consecutive, so that a step stays one llama.cpp pass.

With one KV stream per sequence llama.cpp puts only consecutive sequence ids in one pass
(`llama_batch_allocr::split_equal`, `sequential`), so requests that end out of order split every
later step into several passes, each reading all the weights again; `llama-server --parallel N`
does the same. Between steps `move_sequences` moves generating sequences into free slots
(`PrefixCache.compaction` plans the moves): each move swaps the two slots' KV, so the free
slot's cache is kept in the slot the sequence left, and the drafter's state goes along. A
swap that fails after clearing both slots costs time, not the request: the sequence decodes
what its cache held again.

Nothing moves while a prompt is read: its chunk is a pass of its own anyway, once it generates
one move may do, and so no copy a new prompt asked for (`NativeContext.copy_sequence`, applied
at the next decode) is pending while a swap reads and writes the KV.
"""

from __future__ import annotations

import logging

from cocoon_desktop.engine.process.llama_native import NativeContext, SwapFailed
from cocoon_desktop.engine.process.prefix_cache import PrefixCache
from cocoon_desktop.engine.process.sequence import ActiveSequence
from cocoon_desktop.engine.process.speculative import Drafter

log = logging.getLogger(__name__)
# A move swaps two slots' caches: two 700-token caches took 25-37 ms on the 2-core CPU, about one
# step of those two sequences (28 ms), while a gap costs a pass more in every step. A sequence
# that can end in fewer tokens stays where it is.
MOVE_TOKENS_LEFT = 8


class MoveFailed(RuntimeError):
    """llama.cpp could not swap two slots' KV; the sequence stayed in its slot, and what
    the swap cleared is forgotten (see `move_sequences`)."""


def move_sequences(active: list[ActiveSequence], cache: PrefixCache, context: NativeContext,
                   drafter: Drafter | None) -> int:
    """Make the busy slots consecutive ids where that can be done now; returns the moves made.
    Raises `MoveFailed` after a failed swap: the sequence did not move, and when the swap
    lost its cache it decodes that again (`ActiveSequence.start_over`), losing nothing."""
    if any(seq.next_token is None for seq in active):
        return 0
    movable = {seq.slot.seq_id: seq for seq in active
               if seq.max_tokens - seq.completion_tokens >= MOVE_TOKENS_LEFT}
    moves = 0
    for source, target in cache.compaction(movable):
        seq = movable[source.seq_id]
        try:
            context.swap_sequences(source.seq_id, target.seq_id)
        except SwapFailed as exc:
            if exc.cleared:  # both caches are gone: the sequence decodes its own again
                target.tokens.clear()
                seq.start_over()
            raise MoveFailed(f"could not move sequence {source.seq_id} to "
                             f"{target.seq_id}") from exc
        if drafter is not None:
            drafter.move(source.seq_id, target.seq_id)
        cache.move(source, target)
        seq.slot = target
        moves += 1
        log.debug("sequence %d moved to %d", source.seq_id, target.seq_id)
    return moves


def one_generating_pass(members: list[ActiveSequence]) -> bool:
    """Whether llama.cpp decoded a step's `members` (in sequence order) in one pass:
    generating sequences only (their rows all of one length), with consecutive ids."""
    if any(seq.next_token is None for seq in members):
        return False
    ids = [seq.slot.seq_id for seq in members]
    return ids[-1] - ids[0] == len(ids) - 1
