"""Log entries as the logs view shows, filters and exports them.

Lines come from the app's own log file (format set in `cocoon_desktop.core.logs`) and from live
records; both are redacted before they get here. Continuation lines (tracebacks) belong to the
entry above them.
"""

from __future__ import annotations

import html
import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(?P<ms>\d{3}) "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) (?P<name>[^:\s]+): (?P<msg>.*)$"
)
LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
          "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}


@dataclass(frozen=True)
class LogEntry:
    created: float  # seconds since the epoch
    level: int
    logger: str
    message: str  # may hold several lines (a traceback)

    @property
    def level_name(self) -> str:
        return logging.getLevelName(self.level)

    def line(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.created))
        ms = int(self.created * 1000) % 1000
        return f"{stamp},{ms:03d} {self.level_name} {self.logger}: {self.message}"


@dataclass(frozen=True)
class LogFilter:
    min_level: int = logging.INFO
    text: str = ""  # case-insensitive, matched against logger name and message

    def matches(self, entry: LogEntry) -> bool:
        if entry.level < self.min_level:
            return False
        if not self.text:
            return True
        needle = self.text.lower()
        return needle in entry.message.lower() or needle in entry.logger.lower()


def parse_lines(lines: Iterable[str]) -> list[LogEntry]:
    entries: list[LogEntry] = []
    for raw in lines:
        line = raw.rstrip("\n")
        match = _LINE.match(line)
        if match:
            created = time.mktime(time.strptime(match["date"], "%Y-%m-%d %H:%M:%S"))
            entries.append(LogEntry(created + int(match["ms"]) / 1000, LEVELS[match["level"]],
                                    match["name"], match["msg"]))
        elif entries and line:
            last = entries[-1]
            entries[-1] = LogEntry(last.created, last.level, last.logger,
                                   f"{last.message}\n{line}")
    return entries


def read_log_tail(path: Path, max_bytes: int = 2_000_000) -> list[LogEntry]:
    """The last entries of a log file (about `max_bytes` of it); [] when there is none yet."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except FileNotFoundError:
        return []
    text = data.decode("utf-8", errors="replace")
    if size > max_bytes:
        text = text.split("\n", 1)[-1]  # drop the partial first line
    return parse_lines(text.splitlines())


def export_entries(entries: Iterable[LogEntry], path: Path) -> int:
    """Write entries as log lines; return how many were written."""
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(entry.line() + "\n")
            count += 1
    return count


def entry_key(entry: LogEntry) -> tuple[int, int, str, str]:
    """Who an entry is, whether it came from the log file (millisecond times) or live: the
    same record read both ways is one entry, shown once."""
    # The file keeps whole milliseconds (1234.567 reads back as 1234.566999…): a thousandth of
    # a millisecond's slack makes both readings the same millisecond.
    return math.floor(entry.created * 1000 + 1e-3), entry.level, entry.logger, entry.message


def merge_history(history: Iterable[LogEntry], live: Iterable[LogEntry]) -> list[LogEntry]:
    """The file's past, then the live entries it does not already hold."""
    merged = list(history)
    seen = {entry_key(e) for e in merged}
    merged += [e for e in live if entry_key(e) not in seen]
    return merged


def split_details(message: str) -> tuple[str, str]:
    """(the first line, the rest): a traceback or other detail folds under "details"."""
    first, _, rest = message.partition("\n")
    return first, rest.strip("\n")


LEVEL_CLASS = {logging.ERROR: "bad", logging.CRITICAL: "bad", logging.WARNING: "warn"}


def entry_html(entry: LogEntry, number: int, expanded: bool, colors: dict[str, str]) -> str:
    """One entry as the page shows it: time, level, source and its first line, wrapped; a
    traceback folded under a "details" link (`details:<number>`) until the user opens it."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.created))
    headline, details = split_details(entry.message)
    color = colors.get(LEVEL_CLASS.get(entry.level, ""), colors["text"])
    parts = [f'<span style="color:{colors["muted"]}">{stamp}</span> '
             f'<b style="color:{color}">{entry.level_name}</b> '
             f'<span style="color:{colors["muted"]}">{html.escape(entry.logger)}</span> '
             f'{html.escape(headline)}']
    if details:
        label = "hide details" if expanded else "details"
        parts.append(f' <a href="details:{number}">{label}</a>')
        if expanded:
            parts.append(f'<pre style="color:{colors["muted"]}">{html.escape(details)}</pre>')
    return f'<p style="margin:0 0 4px 0">{"".join(parts)}</p>'
