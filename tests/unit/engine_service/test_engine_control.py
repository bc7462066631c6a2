"""The supervisor <-> engine pipe, the restart policy, and the supervisor's sentences."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from cocoon_desktop.engine.control import LaunchConfig, event_line, parse_line, stop_command
from cocoon_desktop.engine.host.launcher import engine_argv
from cocoon_desktop.engine.host.supervisor import RestartPolicy
from cocoon_desktop.engine.host.supervisor_text import crash_text, status_warnings
from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.engine.types import EngineSettings, SandboxStatus

SETTINGS = EngineSettings(model_path=Path("/m/x.gguf"), model_name="x@c:h", gpu_layers=-1)
SANDBOX = SandboxStatus("bwrap", True, "isolated")


def test_the_launch_configuration_round_trips_and_hides_the_token() -> None:
    config = LaunchConfig("s3cret-token-value", SETTINGS, SANDBOX)
    line = config.to_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert LaunchConfig.from_line(line) == config
    assert "s3cret" not in repr(config)
    drafting = LaunchConfig("t" * 20, replace(SETTINGS, draft_model_path=Path("/m/small.gguf"),
                                              speculative=False), SANDBOX)
    assert LaunchConfig.from_line(drafting.to_line()) == drafting


@pytest.mark.parametrize("line", [b"", b"{}", b"not json", b'{"token": 1, "settings": {}}'])
def test_an_unreadable_launch_configuration_says_so(line: bytes) -> None:
    with pytest.raises(ValueError, match="started by the app"):
        LaunchConfig.from_line(line)


def test_commands_and_events() -> None:
    assert json.loads(stop_command(2.5)) == {"command": "stop", "drain_timeout_s": 2.5}
    assert parse_line(event_line("ready", pid=4).encode()) == {"event": "ready", "pid": 4}
    assert parse_line(b"llama.cpp says hello") is None
    assert parse_line(b"[1]") is None


def test_the_token_is_never_on_the_command_line() -> None:
    argv = engine_argv(7)
    assert argv[-3:] == ["engine", "--listen-fd", "7"]


def test_restart_delays_grow_and_are_capped() -> None:
    policy = RestartPolicy(first_delay_s=1, max_delay_s=5)
    assert [policy.delay_s(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]


def process(kind: str, *tail: str) -> SimpleNamespace:
    return SimpleNamespace(plan=SimpleNamespace(kind=kind), stderr_tail=deque(tail))


def test_crash_sentences() -> None:
    assert crash_text(-9, process("none")).startswith("it was killed by SIGKILL (out of memory")
    assert crash_text(137, process("bwrap")).startswith("it was killed by SIGKILL")
    assert crash_text(1, process("none", "Traceback", "MemoryError")) == \
        "it exited with status 1. Last log line: MemoryError"


def stats(*, offloaded: int, supports: bool) -> EngineStats:
    return EngineStats(
        state="ready", detail="", model_name="x", pid=1, uptime_s=1, capacity=4,
        active_requests=0, queued_requests=0, queue_limit=8, context_tokens_per_sequence=1024,
        supports_gpu_offload=supports, gpu_layers_requested=-1, gpu_layers_offloaded=offloaded,
        tokens_per_second_recent=0, requests_completed=0, requests_cancelled=0,
        requests_failed=0, requests_rejected=0, prompt_tokens_total=0, cached_tokens_total=0,
        completion_tokens_total=0, sandbox=SANDBOX)


def test_warnings_for_a_cpu_fallback_and_missing_isolation() -> None:
    assert status_warnings(SETTINGS, stats(offloaded=33, supports=True), SANDBOX) == ()
    (cpu_build,) = status_warnings(SETTINGS, stats(offloaded=0, supports=False), SANDBOX)
    assert "cannot use the GPU" in cpu_build
    (no_fit,) = status_warnings(SETTINGS, stats(offloaded=0, supports=True), SANDBOX)
    assert "no layer fit" in no_fit
    (open_net,) = status_warnings(SETTINGS, None, SandboxStatus("none", False, "No bwrap."))
    assert "not isolated" in open_net and "No bwrap." in open_net


def test_engine_stats_round_trip_through_json() -> None:
    original = stats(offloaded=1, supports=True)
    assert EngineStats.from_json(json.loads(json.dumps(original.to_json()))) == original
    with pytest.raises(ValueError, match="incomplete"):
        EngineStats.from_json({"state": "ready"})
