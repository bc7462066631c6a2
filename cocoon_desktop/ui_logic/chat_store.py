"""The chat's conversations, kept across launches (a list, like LM Studio's), without Qt.

Each conversation is one JSON file in the app's data folder (`chats/<id>.json`, private to the
user, written atomically), so a crash never leaves half a file and one damaged file costs only
itself: it is skipped in the list, logged, and left on disk untouched.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cocoon_desktop.ui_logic.chat import ChatMessage, Conversation, GenerationStats

log = logging.getLogger(__name__)
VERSION = 1
TITLE_CHARS = 60
_ID = re.compile(r"^[0-9]{14}-[0-9a-f]{6}$")


class ChatStoreError(OSError):
    """A conversation could not be read or written; the text says which and why."""


@dataclass(frozen=True)
class ChatSummary:
    chat_id: str
    title: str
    updated_at: float  # seconds since the epoch
    messages: int


def title_of(conversation: Conversation) -> str:
    """The first line of the first message, shortened: what the list shows."""
    first = next((m.content for m in conversation.messages if m.role == "user"), "")
    line = first.strip().splitlines()[0] if first.strip() else "New chat"
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def new_chat_id(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(now or time.time()))
    return f"{stamp}-{secrets.token_hex(3)}"


def to_json(conversation: Conversation) -> dict[str, Any]:
    return {"version": VERSION, "system_prompt": conversation.system_prompt,
            "messages": [{"role": m.role, "content": m.content, "error": m.error,
                          "stats": asdict(m.stats) if m.stats is not None else None}
                         for m in conversation.messages]}


def from_json(data: Any) -> Conversation:
    """A conversation from its file's JSON; ValueError when it is not one."""
    try:
        messages = []
        for m in data["messages"]:
            if m["role"] not in ("user", "assistant") or not isinstance(m["content"], str):
                raise ValueError(f"a message has role {m['role']!r}")
            stats = GenerationStats(**m["stats"]) if m.get("stats") else None
            messages.append(ChatMessage(m["role"], m["content"], stats, str(m.get("error", ""))))
        return Conversation(str(data.get("system_prompt", "")), messages)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a saved conversation ({exc})") from None


class ChatStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, chat_id: str) -> Path:
        if not _ID.match(chat_id):
            raise ChatStoreError(f"{chat_id!r} is not a conversation of this app")
        return self.folder / f"{chat_id}.json"

    def list(self) -> list[ChatSummary]:
        """Every readable conversation, newest first."""
        found = []
        for path in self.folder.glob("*.json") if self.folder.is_dir() else ():
            if not _ID.match(path.stem):
                continue
            try:
                conversation = from_json(json.loads(path.read_text(encoding="utf-8")))
                updated = path.stat().st_mtime
            except (OSError, ValueError) as exc:
                log.warning("a saved conversation could not be read and is left as it is: "
                            "%s (%s)", path, exc)
                continue
            found.append(ChatSummary(path.stem, title_of(conversation), updated,
                                     len(conversation.messages)))
        return sorted(found, key=lambda s: (s.updated_at, s.chat_id), reverse=True)

    def load(self, chat_id: str) -> Conversation:
        path = self._path(chat_id)
        try:
            return from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ChatStoreError(f"The conversation in {path} could not be read ({exc}); it "
                                 "was left as it is.") from None

    def save(self, chat_id: str, conversation: Conversation) -> None:
        """Write atomically, private to the user (raises ChatStoreError saying why)."""
        path = self._path(chat_id)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        text = json.dumps(to_json(conversation), ensure_ascii=False, indent=1) + "\n"
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ChatStoreError(f"The conversation could not be saved to {path} "
                                 f"({exc.strerror or exc}); check the disk.") from None

    def delete(self, chat_id: str) -> None:
        self._path(chat_id).unlink(missing_ok=True)
