"""Incremental detokenization with stop strings: bytes in, text that is safe to show out.

Tokens give bytes, and a UTF-8 character may be split across tokens: an incremental decoder
holds the partial bytes back. Stop strings may be split across tokens too: the stream holds back
the longest tail of the text that could still grow into a stop string, and when one completes,
the text before it is released and the stop string itself never is.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(frozen=True)
class TextUpdate:
    """What one `feed` released: the text to show and whether a stop string completed."""

    text: str
    stopped: bool


class TextStream:
    """Turns a token's bytes into releasable text, matching `stop` across token boundaries."""

    def __init__(self, stop: tuple[str, ...] = ()) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = tuple(s for s in stop if s)
        self._held = ""
        self.stopped = False

    def feed(self, data: bytes) -> TextUpdate:
        """Add one token's bytes; returns the text that can be shown now."""
        if self.stopped:
            return TextUpdate("", True)
        text = self._held + self._decoder.decode(data)
        if not self._stops:
            self._held = ""
            return TextUpdate(text, False)
        cut = self._earliest_stop(text)
        if cut is not None:
            self._held = ""
            self.stopped = True
            return TextUpdate(text[:cut], True)
        keep = self._longest_open_tail(text)
        self._held = text[len(text) - keep:] if keep else ""
        return TextUpdate(text[:len(text) - keep], False)

    def finish(self) -> str:
        """End of generation without a stop string: release what was held back."""
        if self.stopped:
            return ""
        text = self._held + self._decoder.decode(b"", final=True)
        self._held = ""
        return text

    def _earliest_stop(self, text: str) -> int | None:
        """Where the stop string that completes first begins (the longest, when several end
        on the same character): generation stops as soon as one completes, so the cut is the
        same whatever the token boundaries (like llama-server's check after each token)."""
        best: tuple[int, int] | None = None
        for stop in self._stops:
            start = text.find(stop)
            if start >= 0 and (best is None or (start + len(stop), start) < best):
                best = (start + len(stop), start)
        return best[1] if best is not None else None

    def _longest_open_tail(self, text: str) -> int:
        """Length of the longest suffix of `text` that is a proper prefix of a stop string."""
        best = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(text)), best, -1):
                if stop.startswith(text[len(text) - size:]):
                    best = size
                    break
        return best
