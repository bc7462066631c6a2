"""The user's GPU protection limits, validated as a whole."""

from __future__ import annotations

from dataclasses import dataclass

from cocoon_desktop.hardware.units import GiB, MiB


@dataclass(frozen=True)
class ProtectionSettings:
    """The user's limits. Invalid combinations raise ValueError saying what to change."""

    pause_temperature_c: int = 83
    resume_temperature_c: int = 75
    pause_on_throttle: bool = True
    slowdown_clear_s: float = 30.0
    vram_headroom_bytes: int = 512 * MiB
    game_mode: bool = True
    other_vram_trigger_bytes: int = 1 * GiB
    other_load_trigger_percent: int = 30
    other_load_after_s: float = 5.0
    other_baseline_window_s: float = 600.0
    game_end_quiet_s: float = 30.0

    def __post_init__(self) -> None:
        if not 40 <= self.pause_temperature_c <= 110:
            raise ValueError("The pause temperature must be between 40 and 110 °C.")
        if self.resume_temperature_c >= self.pause_temperature_c:
            raise ValueError(
                "The resume temperature must be lower than the pause temperature "
                f"({self.pause_temperature_c} °C), or serving would pause and resume in a loop."
            )
        if min(self.vram_headroom_bytes, self.other_vram_trigger_bytes) < 0:
            raise ValueError("Memory amounts cannot be negative.")
        if not 1 <= self.other_load_trigger_percent <= 100:
            raise ValueError("The other-programs load trigger must be between 1 and 100 %.")
        if min(self.slowdown_clear_s, self.other_load_after_s, self.game_end_quiet_s) < 0:
            raise ValueError("Waiting times cannot be negative.")
        if self.other_baseline_window_s <= 0:
            raise ValueError("The baseline window must be longer than zero seconds.")
