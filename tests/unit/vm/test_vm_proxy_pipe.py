"""The pipe QEMU runs for each connection the guest opens to a proxy's forward: it gets that
connection as its standard input and output (one socket, as QEMU hands it over) and joins it
to the proxy's address; a proxy that does not answer closes the guest's connection. Real
sockets on loopback and a real subprocess, as QEMU would start it."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from cocoon_desktop.vm.forwards import PIPE_SCRIPT


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A proxy stand-in: echoes what it gets, upper-cased, until the other side closes."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            while data := connection.recv(4096):
                connection.sendall(data.upper())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(5)


def run_pipe(port: int) -> tuple[socket.socket, subprocess.Popen[bytes]]:
    guest, handed = socket.socketpair()
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", str(PIPE_SCRIPT), "127.0.0.1", str(port)],
        stdin=handed, stdout=handed, stderr=handed)
    handed.close()
    guest.settimeout(30)
    return guest, process


def test_bytes_go_both_ways_and_the_pipe_ends_with_the_connection(echo_port: int) -> None:
    guest, process = run_pipe(echo_port)
    with guest:
        guest.sendall(b"hello proxy")
        answer = b""
        while len(answer) < len(b"hello proxy"):
            answer += guest.recv(4096)
        assert answer == b"HELLO PROXY"
        guest.shutdown(socket.SHUT_WR)
        assert guest.recv(4096) == b""  # the proxy closed after the guest did
    assert process.wait(30) == 0


def test_a_proxy_that_does_not_answer_closes_the_guests_connection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    guest, process = run_pipe(port)
    with guest:
        assert guest.recv(4096) == b""  # closed, and nothing written into it
    assert process.wait(30) == 1
