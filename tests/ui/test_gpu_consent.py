"""The question before the GPU moves to the VM: only Yes is a yes (No is the default, closing
it is a no), it says what happens to the card, and the app's node asks it before the helper
runs; the Settings page's "Serve from" saves its value while it shows words."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from cocoon_desktop.engine.host.supervisor import EngineStartError
from cocoon_desktop.node.gpu_select import GpuChoice
from cocoon_desktop.platform.autostart import XdgAutostart
from cocoon_desktop.settings import ServeFrom, load_settings
from cocoon_desktop.ui.controllers.settings import SettingsController
from cocoon_desktop.ui.gpu_consent import ask_gpu_passthrough
from cocoon_desktop.ui.settings_page import SettingsPage
from cocoon_desktop.vm.gpu import PassthroughCheck, PassthroughRequest
from tests.helpers.fake_sysfs import FakeSysfs

REQUEST = PassthroughRequest("0000:17:00.0", "NVIDIA H100",
                             PassthroughCheck("0000:17:00.0", None, (), "12"))


def the_question(qtbot: Any) -> QMessageBox:
    found: list[QMessageBox] = []

    def shown() -> bool:
        found[:] = [w for w in QApplication.topLevelWidgets()
                    if isinstance(w, QMessageBox) and w.objectName() == "gpu_consent"
                    and w.isVisible()]
        return bool(found)
    qtbot.waitUntil(shown, timeout=5_000)
    return found[0]


def test_only_a_yes_moves_the_card(qtbot: Any, loop: Any) -> None:
    answers = []
    for press in (QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes, None):
        task = loop.create_task(ask_gpu_passthrough(None, REQUEST))
        box = the_question(qtbot)
        assert "NVIDIA H100 (0000:17:00.0)" in box.text() and "pkexec" in box.text()
        assert box.defaultButton() is box.button(QMessageBox.StandardButton.No)
        if press is None:
            box.reject()  # closed without an answer
        else:
            box.button(press).click()
        qtbot.waitUntil(task.done, timeout=5_000)
        answers.append(task.result())
    assert answers == [False, True, False]


def test_serve_from_shows_words_and_saves_its_value(qtbot: Any, paths: Any,
                                                    run_async: Any) -> None:
    controller = SettingsController(paths.settings_file, XdgAutostart(paths.config_dir))
    page = SettingsPage(controller)
    qtbot.addWidget(page)
    combo = page.editors["serve_from"]
    assert combo.currentText() == "This computer's sandbox"
    combo.setCurrentText("A confidential VM")
    assert run_async(page.apply()) is True
    assert load_settings(paths.settings_file).settings.serve_from is ServeFrom.VM
    page.load(controller.settings)
    assert combo.currentText() == "A confidential VM"


def test_the_apps_node_asks_in_the_window_before_the_helper_runs(
        qtbot: Any, paths: Any, shell_factory: Any, run_async: Any, loop: Any,
        tmp_path: Any) -> None:
    """The shell's node gets its consent from this question: the helper (pkexec) runs only
    after Yes. The card and its sysfs are fakes (no GPU, no IOMMU here)."""
    sysfs = FakeSysfs(tmp_path / "sys")
    sysfs.device("0000:17:00.0")
    calls: list[list[str]] = []

    async def helper(argv: list[str]) -> tuple[int, str]:
        calls.append(argv)
        return 1, "stopped here: the fake card cannot really move"

    shell = shell_factory()
    vm = shell.node._node.vm
    vm._sysfs, vm._helper = sysfs.root, helper
    vm._gpu = lambda: GpuChoice(0, "GPU-1", "00000000:17:00.0", "NVIDIA H100")
    config = shell.node._node.config
    for press, expected in ((QMessageBox.StandardButton.No, "you did not agree"),
                            (QMessageBox.StandardButton.Yes, "stopped here")):
        task = loop.create_task(vm.pass_gpu(config))
        box = the_question(qtbot)
        assert calls == []  # nothing ran before the answer
        box.button(press).click()
        qtbot.waitUntil(task.done, timeout=5_000)
        with pytest.raises(EngineStartError, match=expected):
            task.result()
    assert [argv[-2:] for argv in calls] == [["bind", "0000:17:00.0"]]
    assert calls[0][0] == "pkexec"
