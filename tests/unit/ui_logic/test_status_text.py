"""Status lines say each thing once ("Engine ready: The engine is ready." was the bug)."""

from __future__ import annotations

from cocoon_desktop.engine.attestation.measurement import AttestationStatus
from cocoon_desktop.engine.host.supervisor import EngineStatus
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.node.status import NodeState, NodeStatus, VmView
from cocoon_desktop.ui_logic.status_text import (
    WAITING_FOR_ENGINE,
    attestation_line,
    engine_line,
    panel_headline,
    speculation_line,
    throughput_tooltip,
    vm_attestation_line,
)
from tests.helpers.engine_stats import engine_stats


def test_the_engine_line_is_its_own_sentence() -> None:
    assert engine_line(EngineState.READY, "The engine is ready.") == "The engine is ready."
    assert engine_line(EngineState.LOADING, "Loading smollm.") == "Loading smollm."
    assert engine_line(EngineState.STOPPED, "  ") == "Engine stopped."
    for state in EngineState:
        line = engine_line(state, f"The engine is {state.value}.")
        assert line.lower().count("engine") == 1 and line.count(state.value) == 1


def test_the_panel_headline_leaves_the_engine_sentence_to_the_engine_line() -> None:
    waiting = NodeStatus(state=NodeState.STARTING,
                         headline="Waiting for the engine: Loading smollm.",
                         engine=EngineStatus(EngineState.LOADING, "Loading smollm."))
    assert panel_headline(waiting) == WAITING_FOR_ENGINE
    starting = NodeStatus(state=NodeState.STARTING, headline="Starting the engine.",
                          engine=EngineStatus(EngineState.LOADING, "Starting the engine."))
    assert panel_headline(starting) == WAITING_FOR_ENGINE
    connecting = NodeStatus(state=NodeState.STARTING, headline="Connecting to the network…",
                            engine=EngineStatus(EngineState.READY, "The engine is ready."))
    assert panel_headline(connecting) == "Connecting to the network…"
    serving = NodeStatus(state=NodeState.SERVING, headline="Serving on the local devnet: …",
                         engine=EngineStatus(EngineState.READY, "The engine is ready."))
    assert panel_headline(serving) == serving.headline


def _status(kind: str, **changes: object) -> AttestationStatus:
    values: dict[str, object] = dict(
        provider_kind=kind, provider_label=kind, measurement_sha256_hex="ab" * 32,
        image_hash_hex="cd" * 32, good_for="Test networks and private deployments only.",
        mainnet_capable=False, better_unavailable_reason="This is not a TDX guest.",
        problem=None)
    return AttestationStatus(**{**values, **changes})  # type: ignore[arg-type]


def test_the_attestation_line_says_what_it_is_good_for_and_how_sure() -> None:
    line, level, details = attestation_line(_status("Fake TDX (software)"))
    assert line == "Fake TDX (software): Test networks and private deployments only."
    assert level == "warn"  # software attestation is never shown as good
    assert "ab" * 32 in details and "cd" * 32 in details
    assert "Why not Intel TDX: This is not a TDX guest." in details
    tdx = _status("Intel TDX", mainnet_capable=True, better_unavailable_reason=None,
                  good_for="Cocoon mainnet, if the image hash is listed on-chain.")
    assert attestation_line(tdx)[1] == "good" and "Why not" not in attestation_line(tdx)[2]
    failed = _status("Intel TDX", problem="the quote timed out", image_hash_hex=None)
    line, level, details = attestation_line(failed)
    assert level == "bad" and line.endswith("The quote failed: the quote timed out")
    assert "Image hash" not in details


def test_the_vm_says_what_attests_it_and_what_that_is_good_for() -> None:
    def line(mode: str) -> tuple[str, str, str]:
        return vm_attestation_line(VmView(state="ready", detail="", mode=mode,
                                          mode_label=f"{mode} label", image_sha256="ab" * 32,
                                          measurement="VM: config cd…"))
    assert line("tdx")[:2] == ("Intel TDX confidential VM: quotes signed by the CPU.", "good")
    assert line("kvm")[:2] == ("VM isolation without attestation (KVM): test networks only.",
                               "warn")
    assert line("tcg")[0].startswith("Emulated VM (TCG), not attested") and \
        "tests and demos" in line("tcg")[0]
    assert f"Image hash: {'ab' * 32}" in line("tcg")[2] and "config cd" in line("tcg")[2]
    assert vm_attestation_line(VmView(state="preparing", detail=""))[0] == \
        "Measured once the VM runs."


def test_the_speculation_line_says_how_drafts_are_made_and_how_many_are_kept() -> None:
    assert speculation_line(engine_stats()) == "Off"
    assert speculation_line(engine_stats(speculation="prompt lookup")) == \
        "Prompt lookup · no drafts yet"
    assert speculation_line(engine_stats(speculation="draft model small.gguf",
                                         draft_tokens_total=1500,
                                         draft_tokens_accepted_total=1230)) == \
        "Draft model small.gguf · 82% of 1,500 drafted tokens accepted"


def test_the_throughput_tooltip_says_what_the_engine_saved_and_where_its_time_went() -> None:
    assert throughput_tooltip(None) == ""
    fresh = throughput_tooltip(engine_stats())
    assert fresh == "Prompt tokens reused from the cache: 0 of 0"  # nothing made up
    busy = throughput_tooltip(engine_stats(
        prompt_tokens_total=12_000, cached_tokens_total=9_500, shared_prefix_tokens_total=700,
        sequences_moved_total=14, step_seconds_total=80.0, decode_seconds_total=78.0))
    assert busy.splitlines() == [
        "Prompt tokens reused from the cache: 9,500 of 12,000",
        "Of those, copied from another request's prompt: 700",
        "Requests moved so that each step stays one pass: 14",
        "Working time in the model itself: 97.5% (the rest: drafting, sampling, sending text)",
    ]
