"""Host sampling with psutil: CPU, memory, the data disk, the engine process, listed programs.

Kept cheap for a 1 Hz tick: psutil objects are reused (so CPU percentages are deltas since the
last tick), the engine's child processes (a sandbox launcher's children) are re-listed only every
few seconds, and the "is a listed game running" scan reads the names of new pids only.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from cocoon_desktop.hardware.snapshots import ProcessSample, SystemSample

log = logging.getLogger(__name__)
LINUX_COMM_LENGTH = 15  # /proc/<pid>/comm keeps at most 15 characters of a program's name


class SystemSampler:
    """CPU, memory and disk of the host, and the engine process tree's own use."""

    def __init__(self, disk_path: Path, engine_pid: int | None = None,
                 children_refresh_s: float = 15.0) -> None:
        self.disk_path = disk_path
        self._children_refresh_s = children_refresh_s
        self._engine: psutil.Process | None = None
        self._engine_pid: int | None = None
        self._tree: list[psutil.Process] = []
        self._tree_listed_at = 0.0
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement
        self.set_engine_pid(engine_pid)

    def set_engine_pid(self, pid: int | None) -> None:
        """Follow a new engine process (or none). Its children count as the engine too."""
        self._engine_pid = pid
        self._engine = None
        self._tree = []
        self._tree_listed_at = 0.0
        if pid is None:
            return
        try:
            self._engine = psutil.Process(pid)
            self._engine.cpu_percent(None)
        except psutil.Error:
            self._engine = None

    def sample_system(self) -> SystemSample:
        memory = psutil.virtual_memory()
        try:
            disk = psutil.disk_usage(str(self.disk_path))
            disk_total, disk_free = int(disk.total), int(disk.free)
        except OSError:
            disk_total = disk_free = None
        return SystemSample(
            cpu_percent=float(psutil.cpu_percent(interval=None)),
            cpu_count=psutil.cpu_count() or 1,
            memory_total_bytes=int(memory.total),
            memory_used_bytes=int(memory.total - memory.available),
            memory_available_bytes=int(memory.available),
            disk_path=str(self.disk_path),
            disk_total_bytes=disk_total,
            disk_free_bytes=disk_free,
        )

    def engine_pids(self) -> frozenset[int]:
        """The engine's pid and its children's (as last listed)."""
        return frozenset(p.pid for p in self._tree) or (
            frozenset({self._engine_pid}) if self._engine_pid is not None else frozenset()
        )

    def sample_engine(self, now_s: float | None = None) -> ProcessSample | None:
        """The engine tree's CPU (of one core), memory and threads; None when no engine is set."""
        # One look at the engine: `set_engine_pid` runs on the event loop while this runs on
        # the health thread, so the attributes may change under us; this tick uses what it saw.
        engine, pid = self._engine, self._engine_pid
        if pid is None:
            return None
        if engine is None or not engine.is_running():
            return ProcessSample(pid, False, None, None, None)
        tree = self._refresh_tree(engine, time.monotonic() if now_s is None else now_s)
        cpu = rss = threads = 0.0
        for process in tree:
            try:
                with process.oneshot():
                    cpu += process.cpu_percent(None)
                    rss += process.memory_info().rss
                    threads += process.num_threads()
            except psutil.Error:
                self._tree_listed_at = 0.0  # one of them left: list again next tick
        return ProcessSample(pid, True, cpu, int(rss), int(threads))

    def _refresh_tree(self, engine: psutil.Process, now_s: float) -> list[psutil.Process]:
        """The engine and its children, listed again when the last list is old."""
        current = self._tree
        if current and current[0] is engine and \
                now_s - self._tree_listed_at < self._children_refresh_s:
            return current
        known = {p.pid: p for p in current}
        try:
            fresh = [engine, *engine.children(recursive=True)]
        except psutil.Error:
            fresh = [engine]
        tree: list[psutil.Process] = []
        for process in fresh:
            kept = known.get(process.pid)
            if kept is None:
                kept = process
                try:
                    kept.cpu_percent(None)
                except psutil.Error:
                    continue
            tree.append(kept)
        if self._engine is engine:  # not replaced meanwhile
            self._tree, self._tree_listed_at = tree, now_s
        return tree


def _normalise(name: str) -> str:
    name = name.strip().lower()
    return name[:-4] if name.endswith(".exe") else name


def name_matches(listed: str, process_name: str) -> bool:
    """Does a running process's name match a name on the user's list?

    Case-insensitive, ".exe" optional (games under Wine/Proton run as `Game.exe`), and aware that
    Linux cuts a process's name to 15 characters.
    """
    if _normalise(listed) == _normalise(process_name):
        return True
    return len(process_name) == LINUX_COMM_LENGTH and listed.lower().startswith(
        process_name.lower()
    )


class ProcessNameWatch:
    """Which programs from the user's game list are running. Rescans at most every `interval_s`."""

    def __init__(self, names: Iterable[str] = (), interval_s: float = 5.0) -> None:
        self.interval_s = interval_s
        self._names: tuple[str, ...] = ()
        self._known: dict[int, str] = {}  # pid -> process name
        self._scanned_at: float | None = None
        self._running: tuple[str, ...] = ()
        self.set_names(names)

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def set_names(self, names: Iterable[str]) -> None:
        """Replace the list (blank entries ignored); the next call rescans."""
        self._names = tuple(n.strip() for n in names if n and n.strip())
        self._scanned_at = None

    def running(self, now_s: float | None = None) -> tuple[str, ...]:
        """The listed names with at least one matching process, as the user wrote them."""
        if not self._names:
            return ()
        now_s = time.monotonic() if now_s is None else now_s
        if self._scanned_at is not None and now_s - self._scanned_at < self.interval_s:
            return self._running
        self._scanned_at = now_s
        self._refresh_names()
        names = set(self._known.values())
        self._running = tuple(n for n in self._names if any(name_matches(n, p) for p in names))
        return self._running

    def _refresh_names(self) -> None:
        pids = set(psutil.pids())
        pids.discard(os.getpid())
        for gone in self._known.keys() - pids:
            del self._known[gone]
        for pid in pids - self._known.keys():
            try:
                self._known[pid] = psutil.Process(pid).name()
            except psutil.Error:
                continue
