"""The protection policy as a pure state machine, fed hand-made ticks."""

from __future__ import annotations

import dataclasses

import pytest

from cocoon_desktop.hardware.protection.policy import (
    Notify,
    PauseJobs,
    PauseReason,
    ProtectionPolicy,
    ReloadModel,
    ResumeJobs,
    StopEngine,
    UnloadModel,
)
from cocoon_desktop.hardware.protection.settings import ProtectionSettings
from cocoon_desktop.hardware.snapshots import (
    ClocksEventReason,
    GpuEvent,
    GpuEventSeverity,
    GpuProcess,
    GpuProcessKind,
    GpuSample,
    HealthTick,
    SystemSample,
)

GiB = 1024**3
MiB = 1024**2
OURS = 10  # the engine's pid
SYSTEM = SystemSample(5.0, 8, 32 * GiB, 8 * GiB, 24 * GiB, "/", 1000 * GiB, 500 * GiB)


def gpu(**changes: object) -> GpuSample:
    base = GpuSample(
        index=0, uuid="GPU-0", temperature_c=60, utilization_gpu_percent=90,
        utilization_memory_percent=40, memory_total_bytes=24 * GiB,
        memory_used_bytes=12 * GiB, memory_free_bytes=12 * GiB, power_w=300.0,
        power_limit_w=450.0, energy_total_j=1000.0, sm_clock_mhz=2500, memory_clock_mhz=10000,
        fan_speed_percent=60, performance_state=0, clocks_event_reasons=ClocksEventReason(0),
        pcie_generation=4, pcie_width=16, ecc_corrected_errors=None, ecc_uncorrected_errors=None,
        processes=(GpuProcess(OURS, GpuProcessKind.COMPUTE, 11 * GiB, 90),
                   GpuProcess(20, GpuProcessKind.GRAPHICS, 400 * MiB, 1, "Xorg")),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def tick(t: float, *gpus: GpuSample, games: tuple[str, ...] = ()) -> HealthTick:
    return HealthTick(t, 1e9 + t, gpus or (gpu(),), SYSTEM, None, frozenset({1, OURS}), games)


def kinds(actions: list[object]) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_temperature_pauses_with_hysteresis() -> None:
    policy = ProtectionPolicy(ProtectionSettings(pause_temperature_c=83,
                                                 resume_temperature_c=75))
    assert policy.observe(tick(0, gpu(temperature_c=82))) == []
    actions = policy.observe(tick(1, gpu(temperature_c=84)))
    assert kinds(actions) == ["PauseJobs", "Notify"]
    pause = actions[0]
    assert isinstance(pause, PauseJobs) and pause.reason is PauseReason.TEMPERATURE
    assert "84 °C" in pause.message and "75 °C" in pause.message
    assert policy.observe(tick(2, gpu(temperature_c=86))) == []  # already paused
    assert policy.observe(tick(3, gpu(temperature_c=78))) == []  # cooling, not yet cool
    assert not policy.status.serving_allowed
    resumed = policy.observe(tick(4, gpu(temperature_c=75)))
    assert kinds(resumed) == ["ResumeJobs", "Notify"]
    assert policy.status.serving_allowed


def test_hottest_gpu_counts_and_unknown_temperature_keeps_the_state() -> None:
    policy = ProtectionPolicy()
    hot = policy.observe(tick(0, gpu(temperature_c=50), gpu(index=1, temperature_c=90)))
    assert "GPU 1 reached 90 °C" in hot[0].message  # type: ignore[union-attr]
    assert policy.observe(tick(1, gpu(temperature_c=None))) == []
    assert PauseReason.TEMPERATURE in policy.status.paused_reasons


def test_slowdown_pauses_until_clear_for_a_while() -> None:
    policy = ProtectionPolicy(ProtectionSettings(slowdown_clear_s=30))
    assert policy.observe(tick(0, gpu(clocks_event_reasons=ClocksEventReason.SW_POWER_CAP))) == []
    slowed = policy.observe(tick(1, gpu(clocks_event_reasons=ClocksEventReason.HW_SLOWDOWN)))
    assert kinds(slowed) == ["PauseJobs", "Notify"]
    assert "hardware slowdown" in slowed[0].message  # type: ignore[union-attr]
    assert policy.observe(tick(2)) == []
    assert policy.observe(tick(31)) == []
    thermal = gpu(clocks_event_reasons=ClocksEventReason.HW_THERMAL_SLOWDOWN)
    assert policy.observe(tick(32, thermal)) == []  # slowed again: the clear clock resets
    assert policy.observe(tick(61)) == []  # first clear tick since: the clock starts here
    assert policy.observe(tick(90)) == []
    assert kinds(policy.observe(tick(91))) == ["ResumeJobs", "Notify"]


def test_slowdown_pause_can_be_switched_off() -> None:
    policy = ProtectionPolicy(ProtectionSettings(pause_on_throttle=False))
    assert policy.observe(tick(0, gpu(clocks_event_reasons=ClocksEventReason.HW_SLOWDOWN))) == []


def test_resume_waits_for_every_reason() -> None:
    policy = ProtectionPolicy(ProtectionSettings(slowdown_clear_s=0))
    both = gpu(temperature_c=90, clocks_event_reasons=ClocksEventReason.HW_THERMAL_SLOWDOWN)
    assert kinds(policy.observe(tick(0, both))) == ["PauseJobs", "Notify", "PauseJobs", "Notify"]
    assert policy.observe(tick(1, gpu(temperature_c=70,
                                      clocks_event_reasons=ClocksEventReason.HW_SLOWDOWN))) == []
    assert set(policy.status.paused_reasons) == {PauseReason.SLOWDOWN}
    assert kinds(policy.observe(tick(2, gpu(temperature_c=70)))) == ["ResumeJobs", "Notify"]


def test_vram_headroom_with_hysteresis() -> None:
    policy = ProtectionPolicy(ProtectionSettings(vram_headroom_bytes=512 * MiB))
    assert policy.observe(tick(0, gpu(memory_free_bytes=300 * MiB))) == []  # over half
    actions = policy.observe(tick(1, gpu(memory_free_bytes=200 * MiB)))
    assert kinds(actions) == ["PauseJobs", "Notify"]
    assert "200.0 MiB" in actions[0].message  # type: ignore[union-attr]
    assert policy.observe(tick(2, gpu(memory_free_bytes=400 * MiB))) == []
    assert kinds(policy.observe(tick(3, gpu(memory_free_bytes=600 * MiB)))) == [
        "ResumeJobs", "Notify"]


def game_policy(**changes: object) -> ProtectionPolicy:
    settings = ProtectionSettings(game_end_quiet_s=10, other_load_after_s=5, **changes)  # type: ignore[arg-type]
    return ProtectionPolicy(settings)


def test_a_listed_game_drains_unloads_and_resumes_after_quiet() -> None:
    policy = game_policy()
    entered = policy.observe(tick(0, games=("Cyberpunk2077.exe",)))
    assert kinds(entered) == ["PauseJobs", "UnloadModel", "Notify"]
    assert "Cyberpunk2077.exe is running" in entered[1].message  # type: ignore[union-attr]
    assert policy.status.game_mode
    assert policy.observe(tick(5, games=("Cyberpunk2077.exe",))) == []
    assert policy.observe(tick(6)) == []  # quiet starts
    assert policy.observe(tick(15)) == []
    left = policy.observe(tick(16))
    assert kinds(left) == ["ReloadModel", "ResumeJobs", "Notify"]
    assert not policy.status.game_mode and policy.status.serving_allowed


def test_game_mode_while_paused_for_heat_reloads_but_stays_paused() -> None:
    policy = game_policy()
    policy.observe(tick(0, gpu(temperature_c=90)))
    assert kinds(policy.observe(tick(1, gpu(temperature_c=90), games=("steam",)))) == [
        "PauseJobs", "UnloadModel", "Notify"]
    assert kinds(policy.observe(tick(2, gpu(temperature_c=90)))) == []
    assert kinds(policy.observe(tick(12, gpu(temperature_c=90)))) == ["ReloadModel"]
    assert PauseReason.TEMPERATURE in policy.status.paused_reasons


def with_other(memory_bytes: int | None, load: int | None = None, pid: int = 30) -> GpuSample:
    base = gpu()
    other = GpuProcess(pid, GpuProcessKind.GRAPHICS, memory_bytes, load, "game")
    return dataclasses.replace(base, processes=(*(base.processes or ()), other))


def test_another_program_taking_vram_starts_game_mode_the_desktop_does_not() -> None:
    policy = game_policy(other_vram_trigger_bytes=1 * GiB)
    for t in range(5):
        assert policy.observe(tick(t)) == []  # Xorg's 400 MiB is the baseline
    assert policy.observe(tick(5, with_other(600 * MiB))) == []  # under the trigger
    entered = policy.observe(tick(6, with_other(2 * GiB)))
    assert kinds(entered) == ["PauseJobs", "UnloadModel", "Notify"]
    assert "2.0 GiB more GPU memory (the most: game" in entered[1].message  # type: ignore[union-attr]
    assert policy.observe(tick(7, with_other(600 * MiB))) == []  # half the trigger holds it
    assert policy.observe(tick(8, with_other(None))) == []  # unknown memory counts as none
    assert policy.observe(tick(9)) == []
    assert kinds(policy.observe(tick(18))) == ["ReloadModel", "ResumeJobs", "Notify"]


def test_our_own_engine_growing_is_not_another_program() -> None:
    policy = game_policy()
    policy.observe(tick(0))
    grown = dataclasses.replace(gpu(), processes=(GpuProcess(OURS, GpuProcessKind.COMPUTE,
                                                             23 * GiB, 99),))
    assert policy.observe(tick(1, grown)) == []


def test_slow_drift_becomes_the_baseline() -> None:
    policy = game_policy(other_vram_trigger_bytes=1 * GiB, other_baseline_window_s=60)
    for minute in range(10):  # +200 MiB a minute, 2 GiB over ten minutes
        assert policy.observe(tick(minute * 60, with_other(minute * 200 * MiB))) == []


def test_sustained_load_from_another_program_starts_game_mode() -> None:
    policy = game_policy(other_load_trigger_percent=30)
    assert policy.observe(tick(0, with_other(10 * MiB, load=80))) == []
    assert policy.observe(tick(3, with_other(10 * MiB, load=80))) == []
    assert policy.observe(tick(4, with_other(10 * MiB, load=5))) == []  # a blip resets it
    assert policy.observe(tick(5, with_other(10 * MiB, load=80))) == []
    entered = policy.observe(tick(10, with_other(10 * MiB, load=80)))
    # Every other program's load counts: the game's 80 % and Xorg's 1 %.
    assert "keep the GPU 81 % busy (the most: game)" in entered[1].message  # type: ignore[union-attr]


def test_switching_game_mode_off_resumes_at_once() -> None:
    policy = game_policy()
    policy.observe(tick(0, games=("steam",)))
    policy.update_settings(ProtectionSettings(game_mode=False))
    assert kinds(policy.observe(tick(1, games=("steam",)))) == [
        "ReloadModel", "ResumeJobs", "Notify"]
    assert policy.observe(tick(2, games=("steam",))) == []


def event(xid: int | None, severity: GpuEventSeverity, kind: str = "xid") -> GpuEvent:
    return GpuEvent(0.0, 0.0, 0, "GPU-0", kind, xid, "described", severity)


def test_a_critical_xid_stops_the_engine_and_nothing_restarts_by_itself() -> None:
    policy = ProtectionPolicy()
    actions = policy.observe_event(event(79, GpuEventSeverity.CRITICAL))
    assert kinds(actions) == ["StopEngine", "Notify"]
    assert isinstance(actions[0], StopEngine) and "Xid" not in actions[0].message
    note = actions[1]
    assert isinstance(note, Notify) and note.notification.severity == "critical"
    assert "xid 79" in note.notification.message and "reboot" in note.notification.message
    assert policy.observe(tick(1, gpu(temperature_c=95))) == []
    assert policy.observe_event(event(48, GpuEventSeverity.CRITICAL)) == []
    assert policy.status.stopped_because and not policy.status.serving_allowed
    policy.clear_stop()
    assert policy.status.serving_allowed
    assert kinds(policy.observe(tick(2, gpu(temperature_c=95)))) == ["PauseJobs", "Notify"]


def test_warnings_notify_and_program_faults_are_ignored() -> None:
    policy = ProtectionPolicy()
    warned = policy.observe_event(event(63, GpuEventSeverity.WARNING))
    assert kinds(warned) == ["Notify"]
    assert warned[0].notification.severity == "warning"  # type: ignore[union-attr]
    assert policy.observe_event(event(45, GpuEventSeverity.APPLICATION)) == []
    assert policy.status.serving_allowed


def test_a_lost_gpu_stops_the_engine() -> None:
    actions = ProtectionPolicy().observe(tick(0, gpu(lost=True, temperature_c=None)))
    assert kinds(actions) == ["StopEngine", "Notify"]


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"pause_temperature_c": 80, "resume_temperature_c": 80}, "lower than the pause"),
        ({"pause_temperature_c": 150}, "between 40 and 110"),
        ({"vram_headroom_bytes": -1}, "negative"),
        ({"other_load_trigger_percent": 0}, "between 1 and 100"),
        ({"game_end_quiet_s": -5}, "negative"),
    ],
)
def test_invalid_settings_say_what_to_change(changes: dict[str, int], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ProtectionSettings(**changes)  # type: ignore[arg-type]


def test_actions_are_values() -> None:
    assert ResumeJobs() == ResumeJobs() and ReloadModel() == ReloadModel()
    assert UnloadModel("x") == UnloadModel("x")
