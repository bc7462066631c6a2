"""The headless service's voice: plain log lines (journald-aware), systemd notifications, and
a logger that turns `NodeStatus` changes into lines an operator can act on.

Under systemd (JOURNAL_STREAM set) lines carry a `<N>` syslog priority prefix so `journalctl -p
err` works, and no timestamp (journald adds its own). Every handler redacts secrets.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from cocoon_desktop.core.logs import RedactingFilter, setup_logging
from cocoon_desktop.earnings.labels import money_note
from cocoon_desktop.node.status import NodeStatus
from cocoon_desktop.protocol.money import format_ton

HEARTBEAT_S = 600.0
LOAD_PROGRESS_EVERY_S = 5.0  # at most one "loading the model: N %" line this often
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6,
             logging.DEBUG: 7}


class JournalFormatter(logging.Formatter):
    """`<priority>logger: message`, as sd-daemon(3) describes for stderr."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6)
        return f"<{priority}>{record.name}: {super().format(record)}"


def setup_headless_logging(log_dir: Path | None, level: int = logging.INFO) -> Path | None:
    """stderr (journald-aware) and, when `log_dir` is given, a rotating `serve.log`."""
    setup_logging(None, level)
    root = logging.getLogger()
    if os.environ.get("JOURNAL_STREAM"):
        for handler in root.handlers:
            handler.setFormatter(JournalFormatter("%(message)s"))
    if log_dir is None:
        return None
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_file = log_dir / "serve.log"
    handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=5_000_000,
                                                   backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    return log_file


def sd_notify(message: str) -> bool:
    """Tell systemd (Type=notify units) about readiness or status; False outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8", errors="replace"))
    except OSError:
        return False
    return True


class StatusLogger:
    """Logs what changed (state, headline, what to do, problems), the model's load progress
    (at most one line every `load_every_s`) and a heartbeat line every ten minutes; mirrors
    the headline to systemd's status (`systemctl status`)."""

    def __init__(self, log: logging.Logger, heartbeat_s: float = HEARTBEAT_S,
                 load_every_s: float = LOAD_PROGRESS_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log = log
        self._heartbeat_s = heartbeat_s
        self._load_every_s = load_every_s
        self._clock = clock
        self._last: tuple[object, ...] | None = None
        self._next_beat = clock() + heartbeat_s
        self._load_since: float | None = None  # when this load was first seen, or last logged

    def __call__(self, status: NodeStatus) -> None:
        self._log_load_progress(status.engine_load_fraction, status.vm is not None)
        key = (status.state, status.headline, status.what_to_do, status.problems)
        if key != self._last:
            self._last = key
            level = logging.ERROR if status.needs_user else logging.INFO
            self._log.log(level, "%s: %s", status.state.value, status.headline)
            if status.what_to_do:
                self._log.log(level, "what to do: %s", status.what_to_do)
            for problem in status.problems:
                self._log.warning("problem: %s", problem)
            sd_notify(f"STATUS={status.headline[:200]}")
        elif self._clock() >= self._next_beat:
            self._log.info("%s", heartbeat(status))
        else:
            return
        self._next_beat = self._clock() + self._heartbeat_s

    def _log_load_progress(self, fraction: float | None, vm: bool) -> None:
        """A line once a load has run `load_every_s`, then at most one per `load_every_s`: a
        load that takes a second logs nothing but the state lines around it."""
        now = self._clock()
        if fraction is None:
            self._load_since = None
        elif self._load_since is None:
            self._load_since = now
        elif now - self._load_since >= self._load_every_s:
            self._load_since = now
            if vm:  # the VM's whole start: the boot's steps, then the model's load
                self._log.info("starting the VM: %.0f %% done", fraction * 100)
            else:
                self._log.info("loading the model: %.0f %% of the weights in memory",
                               fraction * 100)


def heartbeat(status: NodeStatus) -> str:
    """One line with the figures an operator looks at."""
    parts = [status.headline]
    if status.vm is not None:
        parts.append(f"VM {status.vm.mode or '-'} {status.vm.state}")
    for gpu in status.gpus:
        temperature = f"{gpu.temperature_c} °C" if gpu.temperature_c is not None else "? °C"
        power = f"{gpu.power_w:.0f} W" if gpu.power_w is not None else "? W"
        parts.append(f"GPU {gpu.index} {temperature} {power}")
    if status.earnings is not None:
        e = status.earnings
        note = money_note(status.earnings_network or status.network)
        parts.append(f"{note}: today {format_ton(e.today.earned_nanoton)} from "
                     f"{e.today.requests} requests; pending {format_ton(e.pending_nanoton)}")
    return " | ".join(parts)
