"""The model load seen from the supervisor: progress from the engine process over the control
pipe (a 50 MB model), and Cancel during the load leaving the engine stopped and no process."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import psutil
import pytest

from cocoon_desktop.engine.host.supervisor import EngineStartError, EngineStatus, EngineSupervisor
from cocoon_desktop.engine.types import EngineState
from tests.integration.engine_core.big_model import write_big_model
from tests.integration.engine_service.conftest import StatusLog, engine_settings, started

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture(scope="module")
def big_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_big_model(tmp_path_factory.mktemp("big-model"))


async def test_load_progress_arrives_rises_and_ends_at_one(big_model: Path) -> None:
    supervisor = EngineSupervisor(engine_settings(model_path=big_model,
                                                  model_name="big-tiny@0:test"))
    log = StatusLog(supervisor)
    try:
        await started(supervisor)
    finally:
        await supervisor.stop(drain_timeout_s=0)
    loading = [s for s in log.seen if s.state is EngineState.LOADING]
    fractions = [s.load_fraction for s in loading if s.load_fraction is not None]
    assert loading[0].load_fraction is None  # the process starts before the weights do
    assert len(fractions) >= 10
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert fractions.count(1.0) == 1
    assert all(s.load_fraction is None for s in log.seen if s.state is not EngineState.LOADING)


async def test_cancel_during_the_load_stops_the_engine_and_its_process(
        big_model: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cocoon_desktop.engine")
    supervisor = EngineSupervisor(engine_settings(model_path=big_model,
                                                  model_name="big-tiny@0:test"))
    log = StatusLog(supervisor)
    assert await supervisor.cancel_load() is False  # nothing is loading yet
    cancelling: list[asyncio.Future[bool]] = []

    def cancel_once_the_process_loads(status: EngineStatus) -> None:
        # From the status itself, as a Cancel button does: never too late for the load.
        if not cancelling and status.state is EngineState.LOADING and status.pid is not None:
            cancelling.append(asyncio.ensure_future(supervisor.cancel_load()))

    supervisor.on_status(cancel_once_the_process_loads)
    await supervisor.start()
    waiting = asyncio.ensure_future(supervisor.wait_ready(60))
    loading = await log.wait_for(lambda s: s.state is EngineState.LOADING and s.pid is not None)
    started_at = asyncio.get_running_loop().time()
    assert await cancelling[0] is True
    took_s = asyncio.get_running_loop().time() - started_at

    status = supervisor.status
    assert status.state is EngineState.STOPPED and status.load_fraction is None
    assert status.detail.startswith("Loading big-tiny was cancelled")
    assert "Start the engine again" in status.detail
    assert not status.gave_up and status.pid is None
    assert loading.pid is not None and not psutil.pid_exists(loading.pid)
    assert took_s < 5  # the engine stopped loading and exited; nothing had to be killed
    with pytest.raises(EngineStartError, match="cancelled"):
        await waiting
    engine_lines = [r.getMessage() for r in caplog.records if r.name.endswith(".process")]
    assert any("the model load was cancelled" in line for line in engine_lines), engine_lines
    assert not any("killing it" in line or "terminating it" in line for line in engine_lines)

    # Cancelling is not a failure: the engine starts again normally.
    await started(supervisor)
    assert supervisor.status.state is EngineState.READY
    assert await supervisor.cancel_load() is False  # ready: nothing to cancel
    await supervisor.stop(drain_timeout_s=0)
