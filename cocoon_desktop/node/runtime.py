"""What a running node leaves in its data folder: a lock (one node per folder) and the run file.

The run file (`node-run.json`, mode 0600, removed at exit, and at the next start when a node
was killed before it could: whoever takes the lock clears what a dead holder left) tells local
tools and the operator
where this instance answers: its pid, the stats address and the stats token, and on the devnet
the test client's endpoint and token. These are loopback access tokens that change every run
(like bitcoind's cookie file), not wallet secrets: those never leave the OS keyring.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; one node per folder is then on the user
    fcntl = None  # type: ignore[assignment]


class HomeInUse(Exception):
    """Another node already runs from this folder."""


class HomeLock:
    """An exclusive lock on the instance's folder, held while the node is open."""

    def __init__(self, path: Path, leftovers: tuple[Path, ...] = ()) -> None:
        self.path = path
        self.leftovers = leftovers  # files only a holder writes (the run file): stale if found
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise HomeInUse(f"Another node (pid {holder}) already serves from "
                                f"{self.path.parent}.") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        for leftover in self.leftovers:  # a holder killed (SIGKILL, power loss) left them
            for stale in (leftover, *leftover.parent.glob(f".{leftover.name}.*.tmp")):
                stale.unlink(missing_ok=True)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


def write_run_file(path: Path, data: dict[str, Any]) -> None:
    """Write atomically, private to the user."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def read_run_file(path: Path) -> dict[str, Any] | None:
    """The run file of a node that runs now, or None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
