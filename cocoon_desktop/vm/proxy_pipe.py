"""Run by QEMU on the host for each connection the guest opens to a proxy's forward
(`guestfwd=...-cmd:`, see `forwards.py`): QEMU hands that connection over as standard input
(and output: one socket); this connects to the proxy given as arguments and copies bytes both
ways until either side closes.

`python -I -S proxy_pipe.py HOST PORT`: standard library only, so it starts fast. It writes
nothing of its own: its standard error is the guest's connection too.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading

CONNECT_TIMEOUT_S = 10.0
LINGER_S = 5.0  # after one side closed, how long the other may still finish
CHUNK_BYTES = 1 << 16


def _copy(source: socket.socket, sink: socket.socket, ended: threading.Event) -> None:
    try:
        while data := source.recv(CHUNK_BYTES):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        ended.set()


def main(argv: list[str]) -> int:
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the whole short life)
    if len(argv) != 3 or not argv[2].isdigit():
        return 2
    guest = socket.socket(fileno=0)
    try:
        proxy = socket.create_connection((argv[1], int(argv[2])), timeout=CONNECT_TIMEOUT_S)
    except OSError:
        return 1  # the guest sees its connection closed
    proxy.settimeout(None)
    ended = threading.Event()
    ways = [threading.Thread(target=_copy, args=(source, sink, ended), daemon=True)
            for source, sink in ((guest, proxy), (proxy, guest))]
    for way in ways:
        way.start()
    ended.wait()
    for way in ways:
        way.join(LINGER_S)
    proxy.close()
    guest.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
