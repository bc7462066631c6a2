"""pytest-qt set-up for the UI tests: offscreen Qt, one qasync loop per test, strict failures.

Qt's platform is chosen before any QApplication exists (offscreen: no window system, no tray).
Each test gets a qasync event loop that counts as running, so coroutines and `spawn()` work
while `qtbot.waitUntil` / `waitSignal` spin Qt's event loop. A background task that fails during
a test fails the test (the app would have shown its error dialog).
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest
import qasync
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication

from cocoon_desktop.core import tasks
from cocoon_desktop.core.paths import AppPaths, app_paths

T = TypeVar("T")


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(event_loop)
    failures: list[tuple[BaseException, str]] = []
    tasks.set_error_reporter(lambda exc, where: failures.append((exc, where)))
    yield event_loop
    for task in tasks.APP_TASKS.running():
        task.cancel()
    deadline = event_loop.time() + 5
    while tasks.APP_TASKS.running() and event_loop.time() < deadline:
        qapp.processEvents()
    tasks.set_error_reporter(None)
    asyncio.events._set_running_loop(None)
    event_loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
    event_loop.close()
    asyncio.set_event_loop(None)
    assert not failures, f"background task failed: {failures[0][1]}: {failures[0][0]!r}"


@pytest.fixture
def run_async(qtbot: Any, loop: asyncio.AbstractEventLoop
              ) -> Callable[[Coroutine[Any, Any, T], int], T]:
    """Run a coroutine on the test's qasync loop while Qt keeps processing events."""

    def run(coro: Coroutine[Any, Any, T], timeout_ms: int = 10_000) -> T:
        task = loop.create_task(coro)
        qtbot.waitUntil(task.done, timeout=timeout_ms)
        return task.result()

    return run


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return app_paths(tmp_path / "home").ensure()


@pytest.fixture
def model_controller(paths: AppPaths) -> Any:
    from cocoon_desktop.engine.models.model_library import ModelLibrary
    from cocoon_desktop.ui.controllers.models import ModelController

    return ModelController(ModelLibrary(paths))


@pytest.fixture
def node_factory(paths: AppPaths, run_async: Any) -> Iterator[Callable[..., Any]]:
    """NodeControllers over real nodes (devnet, this test's folders), opened; closed after."""
    from cocoon_desktop.node.config import from_app_settings, node_home
    from cocoon_desktop.node.node import Node
    from cocoon_desktop.settings import AppSettings
    from cocoon_desktop.ui.controllers.node import NodeController

    made: list[NodeController] = []

    def make(**settings: Any) -> NodeController:
        values = {"context_tokens": 1024, "max_active_requests": 1, **settings}
        node = Node(from_app_settings(AppSettings(**values)),
                    node_home(0, paths.config_dir.parent / f"node{len(made)}"))
        controller = NodeController(node)
        run_async(controller.open(), 60_000)
        made.append(controller)
        return controller

    yield make
    for controller in made:
        run_async(controller.close(5), 60_000)


@pytest.fixture
def engine_controller(node_factory: Any) -> Any:
    """An EngineController over a real node's engine with the bundled model (not started)."""
    from cocoon_desktop.ui.controllers.engine import EngineController

    return EngineController(node_factory())


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fake NVML with one RTX 4090 (this machine has no NVIDIA GPU): the real monitor on top."""
    from tests.helpers.fake_nvml import FakeGpu, FakeNvml

    return FakeNvml([FakeGpu.rtx_4090(temperature_c=61, utilization_gpu_percent=87,
                                      power_mw=310_000)]).install(monkeypatch)


@pytest.fixture
def shell_factory(qapp: QApplication, paths: AppPaths, loop: Any, run_async: Any
                  ) -> Iterator[Callable[..., Any]]:
    """Build AppShells on temporary folders; each is shut down at the end of the test."""
    from cocoon_desktop.platform.autostart import XdgAutostart
    from cocoon_desktop.ui.shell import AppShell

    shells: list[AppShell] = []

    def make(**kwargs: Any) -> AppShell:
        kwargs.setdefault("autostart", XdgAutostart(paths.config_dir))
        shell = AppShell(qapp, paths, **kwargs)
        shells.append(shell)
        return shell

    yield make
    for shell in shells:
        if not shell._quit_done.is_set():
            run_async(shell.shutdown(5), 60_000)
        shell.deleteLater()  # a child of the app: its theme manager and tray go with it
    shells.clear()
    settle_qt_objects(qapp)


def settle_qt_objects(qapp: QApplication) -> None:
    """Delete what a test scheduled with deleteLater and collect its Python wrappers now, while
    that test's loop still exists, rather than in a garbage-collection pass inside a later
    test's event loop (where PySide6 6.11 can crash finalizing wrappers of deleted objects)."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qapp.processEvents()
    gc.collect()


@pytest.fixture(autouse=True)
def _settle_after_each_test(qapp: QApplication) -> Iterator[None]:
    yield
    settle_qt_objects(qapp)


@pytest.fixture
def keyring_store() -> Iterator[Any]:
    """The real OS keyring (scripts/test.sh runs a D-Bus session with an unlocked
    gnome-keyring), under a service name of this test's own; emptied afterwards."""
    import uuid

    from cocoon_desktop.wallet.manager import MNEMONIC_REF, NODE_KEY_REF
    from cocoon_desktop.wallet.secret_store import SecretStore

    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.skip("needs the real keyring: run through scripts/test.sh")
    store = SecretStore(service=f"cocoon-desktop-uitest-{uuid.uuid4().hex[:8]}",
                        prompt_to_unlock=False)
    status = store.status()
    assert status.usable, f"the test keyring is not usable: {status.problem}"
    yield store
    for ref in (MNEMONIC_REF, NODE_KEY_REF):
        store.delete(ref)
