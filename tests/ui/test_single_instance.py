"""A second launch raises the first instance instead of starting another app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from cocoon_desktop.ui.single_instance import (
    SingleInstance,
    notify_running_instance,
    server_name,
)


def test_second_launch_activates_the_first(qtbot: Any, tmp_path: Path) -> None:
    name = server_name(str(tmp_path))
    assert not notify_running_instance(name, 200)  # nobody listens yet
    first = SingleInstance(name)
    assert first.listen()
    with qtbot.waitSignal(first.activation_requested, timeout=5000):
        assert notify_running_instance(name)
    first.close()
    assert not notify_running_instance(name, 200)


def test_stale_socket_from_a_crash_is_replaced(qtbot: Any, tmp_path: Path) -> None:
    name = server_name(str(tmp_path / "crashed"))
    code = (
        "import os\n"
        "from PySide6.QtCore import QCoreApplication\n"
        "from PySide6.QtNetwork import QLocalServer\n"
        "app = QCoreApplication([])\n"
        f"s = QLocalServer(); assert s.listen({name!r})\n"
        "os._exit(0)\n"  # dies without closing: the socket file stays behind
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    instance = SingleInstance(name)
    assert instance.listen()
    with qtbot.waitSignal(instance.activation_requested, timeout=5000):
        assert notify_running_instance(name)
    instance.close()


def test_names_differ_per_data_folder() -> None:
    assert server_name("/a") != server_name("/b")
    assert server_name("/a") == server_name("/a")
