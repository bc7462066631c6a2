"""The control channel over real loopback sockets: the token, acknowledgements, redelivery."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cocoon_desktop.vm.channel import ChannelError, ControlClient
from cocoon_desktop.vm.guest.control_server import ControlServer
from tests.helpers.devnet_harness import wait_until

TOKEN = "a-channel-token-of-enough-length"


async def started_server(commands: list[dict[str, Any]]) -> tuple[ControlServer, int]:
    async def on_command(message: dict[str, Any]) -> None:
        commands.append(message)

    server = ControlServer(TOKEN, lambda: {"measurement": {"mode": "tcg"}}, on_command)
    await server.start("127.0.0.1", 0)
    assert server._server is not None
    return server, server._server.sockets[0].getsockname()[1]


async def test_wrong_token_gets_no_hello() -> None:
    server, port = await started_server([])
    try:
        client = ControlClient("127.0.0.1", port, "not-the-token-at-all", lambda m: None)
        with pytest.raises(ChannelError, match="did not answer"):
            await client.connect(timeout_s=1.5, retry_s=0.2)
    finally:
        await server.stop()


async def test_events_are_delivered_acknowledged_and_sent_again_after_a_reconnect() -> None:
    commands: list[dict[str, Any]] = []
    server, port = await started_server(commands)
    seen: list[dict[str, Any]] = []
    try:
        server.publish("status", engine_state="loading")  # before the host connects
        first = ControlClient("127.0.0.1", port, TOKEN, seen.append)
        hello = await first.connect(timeout_s=5)
        assert hello["measurement"] == {"mode": "tcg"}
        await wait_until(lambda: len(seen) == 1, 5)
        assert await server.wait_acknowledged(5)
        await first.close()
        server.publish("request_finished", request_id="r1")  # nobody connected
        assert not server.acked_all.is_set()
        again: list[dict[str, Any]] = []
        second = ControlClient("127.0.0.1", port, TOKEN, again.append)
        await second.connect(timeout_s=5)
        await wait_until(lambda: [m["event"] for m in again] == ["request_finished"], 5)
        assert await server.wait_acknowledged(5)
        await second.command("stop", drain_timeout_s=3)
        await wait_until(lambda: commands == [{"command": "stop", "drain_timeout_s": 3}], 5)
        await second.close()
    finally:
        await server.stop()


async def test_a_handler_failure_is_logged_and_the_stream_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    server, port = await started_server([])
    seen: list[str] = []

    def handler(message: dict[str, Any]) -> None:
        if message["event"] == "bad":
            raise ValueError("cannot take it")
        seen.append(message["event"])

    client = ControlClient("127.0.0.1", port, TOKEN, handler)
    try:
        await client.connect(timeout_s=5)
        server.publish("bad")
        server.publish("good")
        await wait_until(lambda: seen == ["good"], 5)
        assert "could not be handled: bad" in caplog.text
    finally:
        await client.close()
        await server.stop()


async def test_garbage_on_the_channel_ends_the_connection() -> None:
    server, port = await started_server([])
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"this is not json\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, no hello
        writer.close()
    finally:
        await server.stop()


async def test_an_event_is_acknowledged_only_once_it_is_stored() -> None:
    """Not stored: no acknowledgement, and none for a later event either (an ack covers all
    before it); stored later (`settle`): everything is acknowledged at once."""
    server, port = await started_server([])
    handed: list[str] = []
    stored: list[str] = []

    async def all_stored() -> bool:
        return stored == handed

    client = ControlClient("127.0.0.1", port, TOKEN, lambda m: handed.append(m["event"]),
                           all_stored)
    try:
        await client.connect(timeout_s=5)
        server.publish("request_finished", request_id="r1")
        await wait_until(lambda: handed == ["request_finished"], 5)
        assert not await server.wait_acknowledged(0.3)  # not stored: not acknowledged
        server.publish("engine", state="ready")
        await wait_until(lambda: len(handed) == 2, 5)
        assert not await server.wait_acknowledged(0.3) and server.unacknowledged == 2
        stored.extend(handed)
        assert await client.settle()
        assert await server.wait_acknowledged(5)
    finally:
        await client.close()
        await server.stop()


async def test_events_sent_again_after_a_reconnect_are_not_handed_on_twice() -> None:
    server, port = await started_server([])
    handed: list[str] = []
    stored = False

    async def store() -> bool:
        return stored

    client = ControlClient("127.0.0.1", port, TOKEN, lambda m: handed.append(m["event"]), store)
    try:
        await client.connect(timeout_s=5)
        server.publish("request_finished", request_id="r1")
        await wait_until(lambda: handed == ["request_finished"], 5)
        await client.close()
        stored = True
        await client.connect(timeout_s=5)  # the guest sends the unacknowledged one again
        assert await server.wait_acknowledged(5)
        assert handed == ["request_finished"]
    finally:
        await client.close()
        await server.stop()
