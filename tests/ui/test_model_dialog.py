"""Changing the model: checked (hash, metadata) with progress, cancellable, then saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cocoon_desktop.settings import load_settings
from cocoon_desktop.ui.controllers.models import ModelCheckCancelled, ModelCheckError
from cocoon_desktop.ui.dashboard.model_dialog import ModelDialog
from tests.helpers.tiny_gguf import write_tiny_llama


def test_a_gguf_file_is_checked_and_becomes_the_model(qtbot: Any, paths: Any, tmp_path: Path,
                                                      shell_factory: Any,
                                                      run_async: Any) -> None:
    shell = shell_factory()
    dialog = shell.windows.show_model_dialog()
    qtbot.addWidget(dialog)
    assert isinstance(dialog, ModelDialog)
    qtbot.waitUntil(lambda: dialog.choice.count() >= 1, timeout=10_000)
    assert "SmolLM2" in dialog.choice.itemText(0)
    progress: list[tuple[int, int]] = []
    shell.models.check_progressed.connect(lambda done, total: progress.append((done, total)))
    model = write_tiny_llama(tmp_path / "tiny.gguf", seed=3)
    with qtbot.waitSignal(dialog.accepted, timeout=60_000):
        dialog.use(str(model))
    assert load_settings(paths.settings_file).settings.model_path == str(model)
    assert progress and progress[-1][0] == progress[-1][1] == model.stat().st_size
    entries = run_async(shell.models.entries())
    assert any(e.path == model.resolve() for e in entries)


def test_bad_file_and_cancel_are_explained(qtbot: Any, tmp_path: Path, model_controller: Any,
                                           run_async: Any) -> None:
    bad = tmp_path / "notes.gguf"
    bad.write_text("not a model")
    with pytest.raises(ModelCheckError):
        run_async(model_controller.check(bad, 1024, None, False))
    model = write_tiny_llama(tmp_path / "tiny2.gguf", seed=4)
    with model.open("r+b") as handle:  # a big (sparse) file: hashing takes seconds
        handle.truncate(model.stat().st_size + 4 * 1024**3)
    model_controller.check_progressed.connect(lambda *_: model_controller.cancel())
    with pytest.raises(ModelCheckCancelled, match="cancelled"):
        run_async(model_controller.check(model, 1024, None, False))
