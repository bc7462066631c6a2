"""Speculative decoding: guess the next tokens cheaply, let the model check them in one step.

A generating sequence's step decodes its pending token plus up to k drafted tokens, each with
logits, in the same `llama_decode` as every other sequence. The sequence's own sampler then
samples row by row and keeps a drafted token while the sample equals it (`accept_drafts`).
For a draft that does not depend on the random draw (prompt lookup, a greedy draft model)
this is the standard rule: each kept token IS a sample of the target model given the same
prefix, so the output distribution is unchanged, and at temperature 0 the text is the same
token for token. The first sample that differs (or the one after the last draft) is the next
pending token; the KV of the rejected drafts is dropped by the scheduler.

Drafts come from a `Drafter`: `PromptLookup` (n-gram matches in the sequence's own prompt and
output, no model) here, `DraftModel` in `engine.process.draft_model`. `DraftPace` follows each
sequence's recent acceptance and stops drafting where drafts keep failing; `step_draft_length`
picks the step's draft length from them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cocoon_desktop.engine.process.pass_cost import PassCost

NGRAM_LONGEST = 4  # the longest suffix looked up first (a longer match predicts better)
NGRAM_SHORTEST = 2  # single tokens ("the", ",") match everywhere and predict little
PACE_START_ACCEPTANCE = 0.5  # prior of a new sequence's per-token acceptance
PACE_MEMORY = 0.8  # weight of the past in the acceptance estimate (about the last 5 drafts)
PACE_PROBE_AFTER_MAX = 32  # steps without drafts at most before one more try


@dataclass
class DraftJob:
    """One sequence's request for a draft in this step.

    `history` holds the tokens whose KV the target model has (prompt and output so far) and
    `pending` the sampled token decoded in this step; the drafter proposes what follows it."""

    seq_id: int
    history: Sequence[int]
    pending: int
    limit: int
    tokens: list[int] = field(default_factory=list)


class Drafter(Protocol):
    """Proposes drafts for a step's jobs (fills `job.tokens`, at most `job.limit` each)."""

    def begin(self, seq_id: int) -> None:
        """A new request starts on sequence `seq_id`."""

    def draft(self, jobs: list[DraftJob]) -> None:
        """Fill each job's `tokens`; never raises for a job it cannot draft (leaves it empty)."""

    def move(self, source: int, target: int) -> None:
        """The sequence running as `source` now runs as `target`, a free slot whose contents
        went to `source` (the scheduler swapped them to close a gap in the sequence ids)."""

    def close(self) -> None:
        """Free what the drafter holds."""


@dataclass(frozen=True)
class Speculation:
    """How the scheduler speculates: who drafts, at most how many tokens per sequence and step,
    and what one more token in a decode pass costs on this machine (see `step_draft_length`)."""

    drafter: Drafter
    max_tokens: int
    cost: PassCost  # what a pass with more tokens per sequence costs here (measured)


class NgramIndex:
    """One sequence's tokens and, for each n-gram of 2 to 4 tokens, where it last occurred
    with a token after it. Grows by the tokens appended since the last call (a sequence's
    history only grows while it runs), so a step costs a few dictionary updates."""

    def __init__(self) -> None:
        self._tokens: list[int] = []
        self._next_at: dict[tuple[int, ...], int] = {}

    def propose(self, history: Sequence[int], pending: int, limit: int) -> list[int]:
        """Up to `limit` tokens that followed the latest earlier occurrence of the longest
        suffix of `history + [pending]` seen before; [] when there is none."""
        self._extend(history, pending)
        tokens = self._tokens
        size = len(tokens)
        for n in range(NGRAM_LONGEST, NGRAM_SHORTEST - 1, -1):
            if size <= n:
                continue
            start = self._next_at.get(tuple(tokens[size - n:]))
            if start is not None:
                return tokens[start:start + limit]
        return []

    def _extend(self, history: Sequence[int], pending: int) -> None:
        tokens, next_at = self._tokens, self._next_at
        known = len(tokens)  # the last known token was the previous pending one
        tokens.extend(history[known:])
        tokens.append(pending)
        for position in range(max(known, 1), len(tokens)):
            # the n-grams ending just before `position` are now followed by a token
            for n in range(NGRAM_SHORTEST, min(NGRAM_LONGEST, position) + 1):
                next_at[tuple(tokens[position - n:position])] = position


class PromptLookup:
    """Drafts from the sequence's own prompt and output: when the last tokens occurred
    before, the tokens that followed them then are proposed (quotes, names, repeated
    phrases, code being rewritten)."""

    def __init__(self) -> None:
        self._indexes: dict[int, NgramIndex] = {}

    def begin(self, seq_id: int) -> None:
        self._indexes[seq_id] = NgramIndex()

    def draft(self, jobs: list[DraftJob]) -> None:
        for job in jobs:
            index = self._indexes.setdefault(job.seq_id, NgramIndex())
            job.tokens = index.propose(job.history, job.pending, job.limit)

    def move(self, source: int, target: int) -> None:
        self._indexes[target] = self._indexes.pop(source, NgramIndex())  # `begin` resets source

    def close(self) -> None:
        self._indexes.clear()


class DraftPace:
    """One sequence's record of how its drafts fare.

    `acceptance` estimates the chance that a drafted token is kept given the ones before it
    were (recent drafts weigh most). Where drafts keep failing (the estimate below what a
    drafted token must be worth to pay for itself alone, c / (1 + c) with c the cost of a
    token in a pass) the sequence rests from drafting, for a time that doubles with each
    failed try (up to 32 steps), then offers one more try with the starting estimate
    (`offered_acceptance`)."""

    def __init__(self, cost: PassCost) -> None:
        self._cost = cost
        self._kept = PACE_START_ACCEPTANCE
        self._tried = 1.0
        self._rest = 0
        self._wait = 1

    @property
    def acceptance(self) -> float:
        return self._kept / self._tried

    @property
    def offered_acceptance(self) -> float:
        """The estimate to plan this step with: after a rest, the hopeful starting one."""
        return max(self.acceptance, PACE_START_ACCEPTANCE) if self._failing else self.acceptance

    @property
    def _failing(self) -> bool:
        return self.acceptance < self._cost.value / (1 + self._cost.value)

    def wants_draft(self) -> bool:
        """False while resting (counting the step)."""
        if self._rest > 0:
            self._rest -= 1
            return False
        return True

    def record(self, drafted: int, kept: int) -> None:
        """What became of the last draft: `kept` of its `drafted` tokens were accepted."""
        if drafted <= 0:
            return
        self._kept = PACE_MEMORY * self._kept + kept
        self._tried = PACE_MEMORY * self._tried + kept + (1 if kept < drafted else 0)
        if kept > 0:
            self._wait = 1
        elif self._failing:
            self._rest = self._wait
            self._wait = min(PACE_PROBE_AFTER_MAX, self._wait * 2)


@dataclass(frozen=True)
class DraftOffer:
    """One generating sequence's part in choosing the step's draft length: its acceptance
    estimate and how many drafted tokens it has (0: none)."""

    acceptance: float
    drafted: int


def step_draft_length(offers: Sequence[DraftOffer], pass_time: Callable[[int], float],
                      most: int) -> int:
    """How many drafted tokens every generating sequence carries in this step (0 to `most`).

    With one KV stream per sequence llama.cpp splits a batch into one pass per distinct
    number of tokens per sequence, and a pass reads all the weights again; so all generating
    sequences carry the same number, the ones with shorter drafts padded. `pass_time(m)` is
    how long a pass with m tokens per sequence takes over one with one (`PassCost.pass_time`).
    The length chosen is the one with the most expected tokens per unit of time: each
    sequence yields its pending token plus, for drafts of length k, acceptance^1 + ... +
    acceptance^k. No length beyond the longest draft is chosen: its rows would all be padding
    (a measured price can be lower than a shorter length's, by noise or by the kernels)."""
    generating = len(offers)
    best_length, best_rate = 0, float(generating)
    gains = [0.0] * generating
    time = 1.0
    for length in range(1, min(most, max((o.drafted for o in offers), default=0)) + 1):
        for index, offer in enumerate(offers):
            if length <= offer.drafted:
                gains[index] += offer.acceptance ** length
        time = max(time, pass_time(1 + length))  # measured prices may dip; passes do not
        rate = (generating + sum(gains)) / time
        if rate > best_rate:
            best_length, best_rate = length, rate
    return best_length


Sample = Callable[[int], int]  # output row -> sampled token
Emit = Callable[[int, int], bool]  # (token, its position) -> False when the sequence ended


def accept_drafts(sample: Sample, emit: Emit, *, first_row: int, first_position: int,
                  draft: Sequence[int]) -> tuple[int, int | None]:
    """Sample the rows of one sequence's step in order and keep drafts while they match.

    Row i holds the logits after the pending token and `draft[:i]`; its sample is emitted
    (its text shown, counted, checked for stops) at position `first_position + i`. Returns
    (drafted tokens kept, the next pending token, or None when `emit` ended the sequence).
    A kept draft token's KV is valid; the KV of every draft after the kept ones is not."""
    kept = 0
    for index, drafted in enumerate(draft):
        token = sample(first_row + index)
        matched = token == drafted
        if not emit(token, first_position + index):
            return kept + matched, None
        if not matched:
            return kept, token
        kept += 1
    token = sample(first_row + len(draft))
    return kept, (token if emit(token, first_position + len(draft)) else None)
