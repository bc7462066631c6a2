"""Qt-free rules behind issue 15's screens: conversations kept on disk (a damaged file costs only
itself), chart points thinned, log entries from the file and live shown once, settings in
people's words, wallet notes."""

from __future__ import annotations

import logging
import math
import os
import random
from pathlib import Path

import pytest

from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui_logic.chat import ChatMessage, Conversation, GenerationStats
from cocoon_desktop.ui_logic.chat_store import ChatStore, ChatStoreError, new_chat_id, title_of
from cocoon_desktop.ui_logic.logview import LogEntry, entry_key, merge_history, split_details
from cocoon_desktop.ui_logic.series import downsample, pixel_picture
from cocoon_desktop.ui_logic.settings_form import SECTIONS, choice_label
from cocoon_desktop.ui_logic.wallet_text import address_note, withdraw_reason


def conversation(text: str = "What does a GPU do?") -> Conversation:
    stats = GenerationStats(20, 12, 4, 0.12, 55.5, "stop")
    return Conversation("Be brief.", [ChatMessage("user", text),
                                      ChatMessage("assistant", "It computes.", stats)])


def test_conversations_are_kept_listed_and_deleted(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "chats")
    assert store.list() == []
    first, second = new_chat_id(1_700_000_000), new_chat_id(1_700_000_100)
    store.save(first, conversation())
    store.save(second, conversation("A second question\nwith two lines"))
    os.utime(store.folder / f"{first}.json", (1, 1))  # older
    listed = store.list()
    assert [c.chat_id for c in listed] == [second, first]  # newest first
    assert listed[0].title == "A second question" and listed[0].messages == 2
    loaded = store.load(first)
    assert loaded.system_prompt == "Be brief."
    assert [m.content for m in loaded.messages] == ["What does a GPU do?", "It computes."]
    assert loaded.messages[1].stats == conversation().messages[1].stats
    assert oct((store.folder / f"{first}.json").stat().st_mode & 0o777) == "0o600"
    store.delete(first)
    assert [c.chat_id for c in store.list()] == [second]


def test_a_damaged_conversation_costs_only_itself(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    store = ChatStore(tmp_path)
    good, bad = new_chat_id(), new_chat_id(1_600_000_000)
    store.save(good, conversation())
    (tmp_path / f"{bad}.json").write_text("{half a file")
    with caplog.at_level(logging.WARNING):
        assert [c.chat_id for c in store.list()] == [good]
    assert "left as it is" in caplog.text and (tmp_path / f"{bad}.json").exists()
    with pytest.raises(ChatStoreError, match="could not be read"):
        store.load(bad)
    with pytest.raises(ChatStoreError, match="not a conversation"):
        store.load("../../etc/passwd")


def test_titles_are_short_first_lines() -> None:
    assert title_of(Conversation()) == "New chat"
    long = title_of(conversation("x" * 200))
    assert len(long) == 60 and long.endswith("…")


def test_points_are_thinned_to_bucket_means_with_gaps_kept() -> None:
    points = [(float(t), float(t)) for t in range(1000)]
    times, values = downsample(points, 1000, 1000, 100)
    assert len(times) == 100 and values[0] == pytest.approx(4.5)
    gappy = [(float(t), math.nan if 200 <= t < 400 else 1.0) for t in range(1000)]
    _, values = downsample(gappy, 1000, 1000, 10)
    assert math.isnan(values[2]) and values[0] == 1.0
    assert downsample(points[:5], 1000, 999, 100) == ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4])


def test_a_line_that_slid_less_than_a_pixel_has_the_same_picture() -> None:
    size, window, full = (600.0, 150.0), (-300.0, 0.0), (0.0, 30.0)
    ago = [-300.0 + i for i in range(301)]
    flat = pixel_picture(ago, [5.0] * 301, window, full, size)
    slid = pixel_picture([x - 0.2 for x in ago], [5.01] * 301, window, full, size)
    assert slid == flat  # a steady value, a second later: the same pixels
    gaps = pixel_picture(ago[:10], [math.nan] * 10, window, full, size)
    assert pixel_picture(ago[:12], [math.nan] * 12, window, full, size) == gaps
    assert pixel_picture(ago, [5.0] * 300 + [9.0], window, full, size) != flat  # a new value
    assert pixel_picture(ago[100:], [5.0] * 201, window, full, size) != flat  # a shorter line
    assert pixel_picture(ago, [5.0] * 301, (-60.0, 0.0), full, size) != flat  # another range
    broken = pixel_picture(ago[:3], [1.0, math.nan, 1.0], window, full, size)
    assert broken != pixel_picture(ago[:3], [1.0, 1.0, 1.0], window, full, size)


def runs_by_hand(xs: list[float], ys: list[float], x_range: tuple[float, float],
                 y_range: tuple[float, float], size: tuple[float, float]) -> list[tuple]:
    """The picture's runs the plain way: (first column, last column, row or None for a gap)."""
    sx = size[0] / (x_range[1] - x_range[0])
    sy = size[1] / (y_range[1] - y_range[0])
    runs: list[tuple] = []
    for x, y in zip(xs, ys, strict=True):
        column, row = ((0, None) if math.isnan(y) else
                       (round((x - x_range[0]) * sx), round((y - y_range[0]) * sy)))
        if runs and runs[-1][2] == row:
            runs[-1] = (runs[-1][0], column, row)
        else:
            runs.append((column, column, row))
    return runs


def test_two_lines_share_a_picture_exactly_when_their_runs_are_the_same() -> None:
    rng = random.Random(7)
    window, full, size = (-300.0, 0.0), (0.0, 30.0), (600.0, 150.0)
    for _ in range(2_000):
        n = rng.randint(0, 30)
        xs = sorted(rng.uniform(-300, 0) for _ in range(n))
        ys = [math.nan if rng.random() < 0.2 else rng.choice([5.0, 5.01, rng.uniform(0, 30)])
              for _ in range(n)]
        other_xs = [x - rng.choice([0.0, 0.2, 1.0]) for x in xs]
        other_ys = [y if rng.random() < 0.8 else rng.uniform(0, 30) for y in ys]
        same = (runs_by_hand(xs, ys, window, full, size)
                == runs_by_hand(other_xs, other_ys, window, full, size))
        assert same == (pixel_picture(xs, ys, window, full, size)
                        == pixel_picture(other_xs, other_ys, window, full, size))


def test_a_line_in_the_file_and_live_is_one_entry() -> None:
    live = LogEntry(1234.5678, logging.INFO, "x", "started")
    from_file = LogEntry(1234 + 567 / 1000, logging.INFO, "x", "started")  # ms, as written
    assert entry_key(live) == entry_key(from_file)
    later = LogEntry(1235.0, logging.INFO, "x", "next")
    assert merge_history([from_file], [live, later]) == [from_file, later]
    assert split_details("failed\nTraceback (most recent call last):\n  x") == (
        "failed", "Traceback (most recent call last):\n  x")


def test_settings_read_in_words_and_store_machine_values() -> None:
    specs = {s.name: s for _, section in SECTIONS for s in section}
    assert choice_label(specs["network"], "devnet") == "Local devnet (on this computer)"
    coefficient = specs["coefficient"]
    assert coefficient.shown(1000) == 1.0 and coefficient.stored(1.25) == 1250
    assert specs["gpu_layers"].special == "All that fit"


def test_wallet_notes() -> None:
    mainnet = "UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m"
    note = address_note(mainnet, "0QAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3Hrj",
                        NetworkKind.TESTNET)
    assert "as you gave it" in note and "same account" in note and "0QAuz15" in note
    assert address_note(mainnet, mainnet, NetworkKind.MAINNET) == ""
    assert "local devnet has none" in withdraw_reason(False, True, True)
    assert withdraw_reason(True, True, True) == ""
