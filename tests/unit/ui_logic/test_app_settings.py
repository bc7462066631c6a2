"""The settings model: validation, repair of damaged files, atomic private writes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from cocoon_desktop.settings import (
    AppSettings,
    NetworkKind,
    ServeFrom,
    SettingsError,
    Theme,
    load_settings,
    save_settings,
)


def test_defaults_are_valid_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "config" / "settings.json"
    assert AppSettings().problems() == {}
    save_settings(path, AppSettings())
    loaded = load_settings(path)
    assert loaded.settings == AppSettings()
    assert loaded.warnings == ()


def test_file_is_private_and_has_no_temporary_left(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    save_settings(path, AppSettings(theme=Theme.DARK))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]
    assert json.loads(path.read_text())["theme"] == "dark"


def test_with_changes_coerces_and_validates() -> None:
    s = AppSettings().with_changes(theme="dark", game_mode_processes=["steam", " game.exe "])
    assert s.theme is Theme.DARK
    assert s.game_mode_processes == ("steam", "game.exe")
    with pytest.raises(SettingsError) as err:
        AppSettings().with_changes(pause_temperature_c=120, tariff_currency="dollars")
    assert set(err.value.problems) == {"pause_temperature_c", "tariff_currency"}
    assert "between 40 and 100" in err.value.problems["pause_temperature_c"]


def test_a_draft_model_must_be_a_gguf_file() -> None:
    assert AppSettings().speculative_decoding is True
    with pytest.raises(SettingsError) as err:
        AppSettings().with_changes(draft_model_path="/m/small.bin")
    assert ".gguf" in err.value.problems["draft_model_path"]
    assert AppSettings().with_changes(draft_model_path="/m/small.gguf").draft_model_path


def test_resume_must_be_below_pause() -> None:
    with pytest.raises(SettingsError) as err:
        AppSettings().with_changes(pause_temperature_c=70, resume_temperature_c=75)
    assert "below the pause temperature" in err.value.problems["resume_temperature_c"]


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(SettingsError, match="no such setting"):
        AppSettings().with_changes(colour="blue")


def test_wrong_types_are_named() -> None:
    with pytest.raises(SettingsError) as err:
        AppSettings().with_changes(autostart="yes", chat_max_tokens=1.5, network="moon")
    assert err.value.problems["autostart"] == "must be true or false"
    assert "whole number" in err.value.problems["chat_max_tokens"]
    assert "devnet, testnet, mainnet" in err.value.problems["network"]


def test_unreadable_file_is_kept_aside_and_defaults_used(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    loaded = load_settings(path)
    assert loaded.settings == AppSettings()
    assert len(loaded.warnings) == 1 and "kept as settings.json.unreadable-" in loaded.warnings[0]
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("settings.json.unreadable-")]
    assert len(kept) == 1 and kept[0].read_text() == "{not json"


def test_bad_fields_fall_back_one_by_one_and_unknown_keys_survive(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({
        "theme": "dark", "pause_temperature_c": 500, "network": "testnet",
        "autostart": "maybe", "from_a_newer_version": {"x": 1},
    }))
    loaded = load_settings(path)
    assert loaded.settings.theme is Theme.DARK
    assert loaded.settings.network is NetworkKind.TESTNET
    assert loaded.settings.pause_temperature_c == AppSettings().pause_temperature_c
    assert loaded.settings.autostart is False
    assert len(loaded.warnings) == 2
    save_settings(path, loaded.settings)
    assert json.loads(path.read_text())["from_a_newer_version"] == {"x": 1}


def test_a_file_from_before_the_update_feed_was_dropped_loads_and_keeps_it(
        tmp_path: Path) -> None:
    """`update_feed_url` was read by nothing and is gone; an older file still loads without a
    warning, and the key survives a save (a downgrade finds it again)."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"theme": "dark",
                                "update_feed_url": "https://example.org/feed.json"}))
    loaded = load_settings(path)
    assert loaded.warnings == () and loaded.settings.theme is Theme.DARK
    assert not hasattr(loaded.settings, "update_feed_url")
    save_settings(path, loaded.settings)
    assert json.loads(path.read_text())["update_feed_url"] == "https://example.org/feed.json"


def test_inconsistent_pair_is_reset(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"pause_temperature_c": 60, "resume_temperature_c": 70}))
    loaded = load_settings(path)
    assert loaded.settings.problems() == {}
    assert loaded.warnings


def test_save_refuses_invalid_settings_and_keeps_old_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    save_settings(path, AppSettings(theme=Theme.LIGHT))
    bad = AppSettings(chat_top_p=5.0)
    with pytest.raises(SettingsError):
        save_settings(path, bad)
    assert load_settings(path).settings.theme is Theme.LIGHT


def test_serve_from_is_the_sandbox_unless_the_vm_is_chosen(tmp_path: Path) -> None:
    assert AppSettings().serve_from is ServeFrom.SANDBOX
    chosen = AppSettings().with_changes(serve_from="vm")
    save_settings(tmp_path / "s.json", chosen)
    assert load_settings(tmp_path / "s.json").settings.serve_from is ServeFrom.VM
    with pytest.raises(SettingsError) as err:
        AppSettings().with_changes(serve_from="cloud")
    assert err.value.problems["serve_from"] == "must be one of sandbox, vm (got 'cloud')"
