"""Check a release feed the user configures; never download or install anything by itself.

The feed is a small JSON document served over HTTPS (or `http://127.0.0.1` for tests and private
mirrors):

    {"latest": {"version": "0.2.0", "url": "https://…/release-page", "notes": "…",
                "published": "2026-11-20"}}

The app shows the version it runs, whether a newer one exists and a link to it; the user decides.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from cocoon_desktop import __version__

MAX_FEED_BYTES = 64 * 1024


@dataclass(frozen=True)
class UpdateCheck:
    """The outcome of one check, as the UI shows it."""

    current_version: str
    latest_version: str | None
    update_available: bool
    release_url: str | None
    notes: str
    error: str | None = None  # what went wrong and what to do, when the check failed


class UpdateFeedError(ValueError):
    """The feed answered, but not with something this app understands."""


def parse_feed(raw: bytes, current_version: str = __version__) -> UpdateCheck:
    """Read a feed document; raise UpdateFeedError with a clear reason when it is malformed."""
    try:
        latest = json.loads(raw)["latest"]
        version = Version(str(latest["version"]))
        url = str(latest["url"])
    except (ValueError, KeyError, TypeError, InvalidVersion) as exc:
        raise UpdateFeedError(
            "The release feed is not in the expected format "
            '({"latest": {"version": …, "url": …}}); check the feed address in Settings.'
        ) from exc
    if urllib.parse.urlparse(url).scheme not in ("https", "http"):
        raise UpdateFeedError("The release feed names a download page that is not a web address.")
    newer = version > Version(current_version)
    return UpdateCheck(current_version, str(version), newer, url, str(latest.get("notes", "")))


def check_for_update(feed_url: str, timeout_s: float = 10.0) -> UpdateCheck:
    """Fetch and parse the feed (blocking: call it through the UI's run_blocking)."""
    scheme = urllib.parse.urlparse(feed_url).scheme
    host = urllib.parse.urlparse(feed_url).hostname
    if scheme != "https" and not (scheme == "http" and host in ("127.0.0.1", "localhost")):
        return _failed("The release feed must be an https:// address.")
    try:
        with urllib.request.urlopen(feed_url, timeout=timeout_s) as response:
            raw = response.read(MAX_FEED_BYTES + 1)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return _failed(f"Could not reach the release feed ({reason}); try again later.")
    if len(raw) > MAX_FEED_BYTES:
        return _failed("The release feed is unexpectedly large; check the feed address.")
    try:
        return parse_feed(raw)
    except UpdateFeedError as exc:
        return _failed(str(exc))


def _failed(message: str) -> UpdateCheck:
    return UpdateCheck(__version__, None, False, None, "", error=message)
