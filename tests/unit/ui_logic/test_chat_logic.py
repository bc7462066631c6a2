"""The chat's conversation rules, request body and figures."""

from __future__ import annotations

import pytest

from cocoon_desktop.ui_logic.chat import (
    ChatInputError,
    Conversation,
    GenerationParams,
    ThroughputMeter,
    build_request_body,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_request_body_has_system_prompt_params_and_usage() -> None:
    c = Conversation(system_prompt="Be brief.")
    c.add_user("Hi")
    body = build_request_body(c, GenerationParams(0.2, 0.9, 64), "smollm2")
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}
    ]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 0.9, 64)


def test_params_are_validated() -> None:
    with pytest.raises(ChatInputError, match="Temperature"):
        GenerationParams(temperature=3).validated()
    with pytest.raises(ChatInputError, match="Top-p"):
        GenerationParams(top_p=0).validated()
    with pytest.raises(ChatInputError, match="Max tokens"):
        GenerationParams(max_tokens=0).validated()


def test_user_turns_alternate_and_empty_is_refused() -> None:
    c = Conversation()
    with pytest.raises(ChatInputError, match="Type a message"):
        c.add_user("   ")
    c.add_user("one")
    with pytest.raises(ChatInputError, match="Wait for the answer"):
        c.add_user("two")


def test_regenerate_drops_the_last_answer_and_failed_answers_are_not_sent() -> None:
    c = Conversation()
    with pytest.raises(ChatInputError):
        c.prepare_regenerate()
    c.add_user("q1")
    c.start_answer().content = "a1"
    c.add_user("q2")
    failed = c.start_answer()
    failed.error = "engine stopped"
    assert [m["content"] for m in c.request_messages()] == ["q1", "a1", "q2"]
    c.prepare_regenerate()
    assert [m.content for m in c.messages] == ["q1", "a1", "q2"]
    c.clear()
    assert c.messages == [] and not c.can_regenerate()


def test_markdown_export_names_the_speakers() -> None:
    c = Conversation(system_prompt="S")
    c.add_user("q")
    c.start_answer().content = "**a**"
    text = c.as_markdown()
    assert "**System:** S" in text and "**You:**\n\nq" in text and "**Assistant:**\n\n**a**" in text


def test_throughput_from_first_token_and_usage() -> None:
    clock = Clock()
    meter = ThroughputMeter(clock)
    clock.now = 100.5  # first token after 0.5 s
    meter.on_delta()
    for _ in range(10):
        clock.now += 0.1
        meter.on_delta()
    usage = {"prompt_tokens": 20, "completion_tokens": 11,
             "prompt_tokens_details": {"cached_tokens": 8}}
    stats = meter.stats(usage, "stop")
    assert stats.time_to_first_token_s == pytest.approx(0.5)
    assert stats.tokens_per_s == pytest.approx(10.0)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.cached_tokens) == (20, 11, 8)
    assert "10.0 tok/s" in stats.summary() and "8 cached" in stats.summary()


def test_throughput_without_usage_counts_chunks_and_says_stopped() -> None:
    clock = Clock()
    meter = ThroughputMeter(clock)
    stats = meter.stats(None, "stopped")
    assert stats.tokens_per_s is None and stats.completion_tokens == 0
    meter.on_delta()
    clock.now += 1
    meter.on_delta()
    stats = meter.stats(None, "stopped")
    assert stats.completion_tokens == 2 and stats.tokens_per_s == pytest.approx(1.0)
    assert stats.summary().endswith("stopped")
