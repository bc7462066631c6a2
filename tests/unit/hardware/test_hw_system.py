"""Host sampling: names of listed programs, and the system sample's sanity."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cocoon_desktop.hardware.system import SystemSampler, name_matches


@pytest.mark.parametrize(
    ("listed", "running", "expected"),
    [
        ("steam", "steam", True),
        ("Steam", "steam", True),
        ("Game.exe", "game.exe", True),
        ("game.exe", "game", True),  # ".exe" optional either way
        ("game", "Game.exe", True),
        ("Cyberpunk2077.exe", "Cyberpunk2077.e", True),  # Linux keeps 15 characters
        ("Cyberpunk2077.exe", "Cyberpunk", False),
        ("steam", "steamwebhelper", False),
        ("eldenring.exe", "eldenring.exe.", False),
    ],
)
def test_program_names_match_like_a_user_means_them(listed: str, running: str,
                                                    expected: bool) -> None:
    assert name_matches(listed, running) is expected


def test_system_sample_is_sane(tmp_path: Path) -> None:
    sampler = SystemSampler(tmp_path)
    sample = sampler.sample_system()
    assert 0.0 <= sample.cpu_percent <= 100.0 and sample.cpu_count >= 1
    assert 0 < sample.memory_used_bytes < sample.memory_total_bytes
    assert sample.memory_available_bytes <= sample.memory_total_bytes
    assert sample.disk_total_bytes and 0 < (sample.disk_free_bytes or 0) <= sample.disk_total_bytes
    assert sample.disk_path == str(tmp_path)


def test_a_missing_disk_path_is_not_available(tmp_path: Path) -> None:
    sample = SystemSampler(tmp_path / "gone").sample_system()
    assert sample.disk_free_bytes is None and sample.disk_total_bytes is None


def test_no_engine_no_engine_sample(tmp_path: Path) -> None:
    sampler = SystemSampler(tmp_path)
    assert sampler.sample_engine() is None
    assert sampler.engine_pids() == frozenset()
    sampler.set_engine_pid(os.getpid())
    engine = sampler.sample_engine()
    assert engine is not None and engine.running and (engine.rss_bytes or 0) > 0
