"""Speculative decoding's pure parts: n-gram drafts, the acceptance rule, the draft pace, and
the choice of one draft length per step."""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from cocoon_desktop.engine.process.pass_cost import PassCost
from cocoon_desktop.engine.process.speculative import (
    DraftJob,
    DraftOffer,
    DraftPace,
    NgramIndex,
    PromptLookup,
    accept_drafts,
    step_draft_length,
)


def test_lookup_proposes_what_followed_the_latest_earlier_occurrence() -> None:
    index = NgramIndex()
    history = [1, 2, 3, 4, 5, 9, 1, 2, 3, 7, 8, 1]
    assert index.propose(history, 2, limit=3) == [3, 7, 8]  # "1 2" last seen before 3 7 8


def test_lookup_prefers_a_longer_match_and_stops_at_the_limit() -> None:
    index = NgramIndex()
    # "2 3" was followed by 9 most recently, but "1 2 3" by 4 5 6
    history = [1, 2, 3, 4, 5, 6, 0, 2, 3, 9, 0, 1, 2]
    assert index.propose(history, 3, limit=2) == [4, 5]


def test_lookup_has_nothing_for_a_new_suffix_or_single_tokens() -> None:
    index = NgramIndex()
    assert index.propose([1, 2, 3], 4, limit=4) == []
    assert index.propose([1, 2, 3, 4], 3, limit=4) == []  # "3" alone is too short to match


def test_lookup_grows_with_the_history_between_calls() -> None:
    index = NgramIndex()
    assert index.propose([10, 11, 12], 13, limit=3) == []
    history = [10, 11, 12, 13, 20, 10]  # the pending 13 became history, then two tokens came
    assert index.propose(history, 11, limit=3) == [12, 13, 20]


@given(st.lists(st.integers(0, 5), min_size=2, max_size=60), st.integers(1, 6),
       st.integers(0, 1000))
def test_lookup_always_proposes_a_true_earlier_continuation(full: list[int], limit: int,
                                                            seed: int) -> None:
    index = NgramIndex()
    cut = random.Random(seed).randint(0, len(full) - 2)
    index.propose(full[:cut], full[cut], limit)  # an earlier step, then the full history
    proposal = index.propose(full[:-1], full[-1], limit)
    assert len(proposal) <= limit
    if proposal:
        # some n >= 2 suffix occurs earlier and is followed by exactly the proposal
        assert any(full[start - n:start] == full[-n:] and
                   full[start:start + len(proposal)] == proposal
                   for n in range(2, 5) for start in range(n, len(full)))


def test_prompt_lookup_fills_jobs_per_sequence() -> None:
    lookup = PromptLookup()
    lookup.begin(0)
    lookup.begin(1)
    jobs = [DraftJob(0, [1, 2, 3, 1], 2, limit=5), DraftJob(1, [7, 8], 9, limit=5)]
    lookup.draft(jobs)
    assert jobs[0].tokens == [3, 1, 2]
    assert jobs[1].tokens == []
    lookup.close()


def test_prompt_lookup_follows_a_sequence_moved_to_another_slot() -> None:
    lookup = PromptLookup()
    lookup.begin(1)  # slot 1's last request, now ended
    lookup.draft([DraftJob(1, [7, 8, 9, 7, 8], 9, limit=5)])
    lookup.begin(5)
    lookup.draft([DraftJob(5, [1, 2, 3, 1], 2, limit=5)])
    lookup.move(5, 1)
    job = DraftJob(1, [1, 2, 3, 1, 2], 3, limit=5)  # sequence 5's history, one step on
    lookup.draft([job])
    assert job.tokens == [1, 2, 3]  # from its own history, not slot 1's last request
    lookup.close()


def _run(samples: list[int], draft: list[int], stop_at: int | None = None
         ) -> tuple[int, int | None, list[tuple[int, int]]]:
    emitted: list[tuple[int, int]] = []

    def emit(token: int, position: int) -> bool:
        emitted.append((token, position))
        return stop_at is None or len(emitted) < stop_at

    kept, pending = accept_drafts(lambda row: samples[row - 10], emit, first_row=10,
                                  first_position=100, draft=draft)
    return kept, pending, emitted


def test_drafts_are_kept_while_the_samples_match() -> None:
    assert _run([5, 6, 7, 8], [5, 6, 9]) == (2, 7, [(5, 100), (6, 101), (7, 102)])
    assert _run([5, 6, 7, 8], [5, 6, 7]) == (3, 8, [(5, 100), (6, 101), (7, 102), (8, 103)])
    assert _run([4, 6], [5]) == (0, 4, [(4, 100)])
    assert _run([4], []) == (0, 4, [(4, 100)])


def test_nothing_is_emitted_after_the_sequence_ends() -> None:
    # the second token ends the sequence (a stop string, max_tokens): the rest is never shown
    kept, pending, emitted = _run([5, 6, 7, 8], [5, 6, 7], stop_at=2)
    assert (kept, pending, emitted) == (2, None, [(5, 100), (6, 101)])
    kept, pending, emitted = _run([5, 9, 7, 8], [5, 6, 7], stop_at=2)
    assert (kept, pending, emitted) == (1, None, [(5, 100), (9, 101)])


def test_the_acceptance_rule_keeps_the_target_distribution() -> None:
    """With a sampler drawing from p and a fixed draft, the first emitted token is
    distributed as p exactly (the rule never looks at the draft to choose a token)."""
    rng = random.Random(7)
    p = {1: 0.5, 2: 0.3, 3: 0.2}
    counts = dict.fromkeys(p, 0)
    for _ in range(20000):
        samples = rng.choices(list(p), weights=list(p.values()), k=3)
        _, _, emitted = _run(samples, [1, 1])
        counts[emitted[0][0]] += 1
    for token, share in p.items():
        assert abs(counts[token] / 20000 - share) < 0.015


def test_the_pace_rests_where_drafts_keep_failing_and_tries_again() -> None:
    pace = DraftPace(PassCost(0.25))  # drafts must be kept 20 % of the time
    rested = []
    for _ in range(40):
        if pace.wants_draft():
            pace.record(4, 0)
            rested.append(False)
        else:
            rested.append(True)
    assert pace.acceptance < 0.2
    assert sum(rested) > 30  # it mostly rests, trying again less and less often
    assert not all(rested[-20:])  # but it does try again
    assert pace.offered_acceptance >= 0.5  # a try is planned with the hopeful estimate


def test_the_pace_follows_recent_acceptance() -> None:
    pace = DraftPace(PassCost(0.25))  # drafts must be kept 20 % of the time
    for _ in range(10):
        pace.record(5, 5)
    assert pace.acceptance > 0.9
    for _ in range(10):
        pace.record(5, 1)
    assert 0.4 < pace.acceptance < 0.65


def linear(token_cost: float, sequences: int) -> Callable[[int], float]:
    """Pass times of a machine where a pass over n tokens takes 1 + token_cost * n."""
    return lambda m: (1 + token_cost * sequences * m) / (1 + token_cost * sequences)


def test_one_length_for_the_step_is_chosen_by_expected_tokens_per_cost() -> None:
    sure = DraftOffer(0.95, 8)
    assert step_draft_length([sure], linear(0.05, 1), most=8) == 8  # a GPU: draft it all
    assert step_draft_length([sure], linear(0.3, 1), most=8) == 8  # sure drafts pay anyway
    assert 1 <= step_draft_length([DraftOffer(0.7, 8)], linear(0.3, 1), most=8) < 8
    assert step_draft_length([DraftOffer(0.05, 8)], linear(0.3, 1), most=8) == 0
    assert step_draft_length([DraftOffer(0.9, 0)], linear(0.01, 1), most=8) == 0  # no draft
    # eight sequences, one with a good draft: padding the seven others does not pay on a CPU
    offers = [sure] + [DraftOffer(0.5, 0)] * 7
    assert step_draft_length(offers, linear(0.3, 8), most=8) == 0
    assert step_draft_length([sure] * 8, linear(0.05, 8), most=8) > 0
    assert step_draft_length([sure], linear(0.3, 1), most=2) <= 2


def test_no_length_beyond_the_longest_draft_is_chosen() -> None:
    """Measured prices can dip (here a pass of 6 tokens timed cheaper than one of 3, as noise or
    a kernel switch makes them); a longer length then looked cheaper per row although its
    extra rows were padding, and a request could end on a padding row with its KV one cell
    longer than its tokens (test_kv_space_is_reclaimed_over_many_requests, under load)."""

    def dipping(m: int) -> float:
        return 2.0 if m >= 6 else float(m)

    assert step_draft_length([DraftOffer(0.9, 2)], dipping, most=8) <= 2
    assert step_draft_length([DraftOffer(0.9, 2), DraftOffer(0.9, 0)], dipping, most=8) <= 2
    assert step_draft_length([DraftOffer(0.9, 8)], dipping, most=8) == 8
