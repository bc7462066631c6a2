"""Slot choice for prompt-prefix reuse."""

from __future__ import annotations

from cocoon_desktop.engine.process.prefix_cache import (
    PrefixCache,
    common_prefix_length,
    copy_threshold,
)


def test_common_prefix_length() -> None:
    assert common_prefix_length([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix_length([], [1]) == 0
    assert common_prefix_length([1, 2], [1, 2, 3]) == 2


def test_free_slot_with_the_longest_shared_prefix_is_chosen() -> None:
    cache = PrefixCache(3)
    cache.slots[0].tokens = [1, 2, 9]
    cache.slots[1].tokens = [1, 2, 3, 4, 5]
    cache.slots[2].tokens = [7, 7]
    choice = cache.choose([1, 2, 3, 4, 6, 6])
    assert choice is not None
    assert choice.slot.seq_id == 1
    assert choice.reusable_tokens == 4


def test_busy_slots_are_never_chosen() -> None:
    cache = PrefixCache(2)
    cache.slots[0].tokens = [1, 2, 3]
    cache.slots[0].busy = True
    choice = cache.choose([1, 2, 3, 4])
    assert choice is not None and choice.slot.seq_id == 1 and choice.reusable_tokens == 0
    cache.slots[1].busy = True
    assert cache.choose([1]) is None
    assert cache.free_count() == 0


def test_one_prompt_token_is_always_left_to_decode() -> None:
    cache = PrefixCache(1)
    cache.slots[0].tokens = [1, 2, 3, 4]
    choice = cache.choose([1, 2, 3])
    assert choice is not None and choice.reusable_tokens == 2


def test_without_a_shared_prefix_the_least_recently_used_slot_is_taken() -> None:
    cache = PrefixCache(3)
    for seq_id, step in enumerate([5, 2, 9]):
        cache.slots[seq_id].tokens = [100 + seq_id]
        cache.slots[seq_id].last_used_step = step
    choice = cache.choose([1, 2])
    assert choice is not None and choice.slot.seq_id == 1


def test_a_busy_slots_longer_prefix_is_copied_into_the_least_recently_used_free_slot() -> None:
    cache = PrefixCache(3, copy_from=4)
    system = list(range(100, 120))
    cache.slots[0].tokens, cache.slots[0].busy = [*system, 1, 2, 3], True
    cache.slots[1].tokens, cache.slots[1].last_used_step = [*system[:2], 9], 7
    cache.slots[2].tokens, cache.slots[2].last_used_step = [5], 3
    choice = cache.choose([*system, 4, 4])
    assert choice is not None
    assert choice.source is cache.slots[0] and choice.reusable_tokens == 20
    assert choice.slot is cache.slots[2]  # the least recently used free slot takes the copy


def test_a_copy_must_win_enough_tokens_over_the_slots_own_prefix() -> None:
    cache = PrefixCache(2, copy_from=4)
    cache.slots[0].tokens, cache.slots[0].busy = [1, 2, 3, 4, 5, 6], True
    cache.slots[1].tokens = [1, 2, 3, 9]
    choice = cache.choose([1, 2, 3, 4, 5, 6, 7])
    assert choice is not None and choice.source is None  # 6 shared is not 4 more than 3
    assert (choice.slot.seq_id, choice.reusable_tokens) == (1, 3)
    assert PrefixCache(2).choose([1, 2, 3, 4, 5, 6, 7]).source is None  # copying is off
    assert copy_threshold(1024) == 16 and copy_threshold(8192) == 128


def busy_cache(capacity: int, busy: set[int]) -> PrefixCache:
    cache = PrefixCache(capacity)
    for slot in cache.slots:
        slot.busy = slot.seq_id in busy
    return cache


def moves(cache: PrefixCache, movable: set[int]) -> list[tuple[int, int]]:
    return [(source.seq_id, target.seq_id) for source, target in cache.compaction(movable)]


def test_consecutive_busy_slots_need_no_move() -> None:
    assert moves(busy_cache(8, {2, 3, 4}), {2, 3, 4}) == []
    assert moves(busy_cache(8, {5}), {5}) == []
    assert moves(busy_cache(8, set()), set()) == []


def test_a_gap_is_closed_with_the_fewest_moves() -> None:
    # 0-3 busy, 1 ended: one move (3 -> 1) makes 0-2 consecutive
    assert moves(busy_cache(8, {0, 2, 3}), {0, 2, 3}) == [(3, 1)]
    # alternate slots: two moves, not three
    plan = moves(busy_cache(8, {1, 3, 5, 7}), {1, 3, 5, 7})
    assert len(plan) == 2
    after = ({1, 3, 5, 7} - {source for source, _ in plan}) | {target for _, target in plan}
    assert max(after) - min(after) == 3


def test_the_run_that_carries_the_fewest_cached_tokens_is_chosen() -> None:
    cache = busy_cache(4, {1, 3})
    cache.slots[0].tokens = [9] * 50  # a long cached prompt: costly to carry
    cache.slots[2].tokens = [8] * 5
    assert moves(cache, {1, 3}) == [(3, 2)]  # into slot 2, not swapping slot 0's long cache


def test_slots_not_movable_stay_and_the_others_move_next_to_them() -> None:
    # 4 has one token left (not worth a copy): the run must hold it
    assert moves(busy_cache(8, {0, 4, 5}), {0, 5}) == [(0, 3)]
    assert moves(busy_cache(8, {0, 1, 4}), {0, 1}) == [(0, 2), (1, 3)]
    # no run holds both 0 and 7, neither movable: nothing moves
    assert moves(busy_cache(8, {0, 3, 7}), {3}) == []


def test_a_move_swaps_the_slots_so_the_free_slots_cache_is_kept() -> None:
    cache = busy_cache(4, {0, 3})
    cache.slots[3].tokens = running = [1, 2, 3]
    cache.slots[1].tokens = [4, 5, 6, 7]  # a free slot's cached prompt
    cache.slots[1].last_used_step = 7
    cache.slots[2].tokens = [9] * 10  # longer: slot 1 is the cheaper one to swap
    (source, target), = cache.compaction({0, 3})
    cache.move(source, target)
    assert (source.seq_id, target.seq_id) == (3, 1)
    assert target.busy and target.tokens is running  # the sequence appends to it as before
    assert not source.busy and source.tokens == [4, 5, 6, 7] and source.last_used_step == 7
    choice = cache.choose([4, 5, 6, 7, 8])  # the cached prompt still serves a later request
    assert choice is not None and choice.slot is source and choice.reusable_tokens == 4
