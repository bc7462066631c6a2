"""The update check reads a user-configured feed over a real loopback HTTP server."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from cocoon_desktop import __version__
from cocoon_desktop.platform.updates import UpdateFeedError, check_for_update, parse_feed


@pytest.fixture
def feed_server() -> Iterator[dict[str, bytes]]:
    served: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    served["__base__"] = f"http://127.0.0.1:{server.server_port}".encode()
    yield served
    server.shutdown()


def feed(version: str) -> bytes:
    return json.dumps({"latest": {"version": version, "url": "https://example.org/r"}}).encode()


def test_newer_release_is_reported(feed_server: dict[str, bytes]) -> None:
    feed_server["/feed.json"] = feed("99.0.0")
    result = check_for_update(feed_server["__base__"].decode() + "/feed.json")
    assert result.update_available and result.latest_version == "99.0.0"
    assert result.current_version == __version__ and result.error is None


def test_same_version_is_not_an_update(feed_server: dict[str, bytes]) -> None:
    feed_server["/feed.json"] = feed(__version__)
    result = check_for_update(feed_server["__base__"].decode() + "/feed.json")
    assert not result.update_available and result.error is None


def test_unreachable_or_malformed_feed_is_a_clear_error(feed_server: dict[str, bytes]) -> None:
    missing = check_for_update(feed_server["__base__"].decode() + "/nope.json")
    assert not missing.update_available and "Could not reach" in (missing.error or "")
    feed_server["/bad.json"] = b"<html>"
    bad = check_for_update(feed_server["__base__"].decode() + "/bad.json")
    assert "expected format" in (bad.error or "")


def test_plain_http_feed_off_loopback_is_refused() -> None:
    result = check_for_update("http://example.org/feed.json")
    assert result.error == "The release feed must be an https:// address."


def test_feed_with_a_non_web_release_url_is_rejected() -> None:
    raw = json.dumps({"latest": {"version": "9.9", "url": "file:///etc/passwd"}}).encode()
    with pytest.raises(UpdateFeedError):
        parse_feed(raw)
