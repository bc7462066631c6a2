"""The private channel between the supervisor (app process) and the engine process.

Secrets and settings never travel on the command line or in the environment (both are readable
in /proc by other processes of the user): the supervisor writes one JSON line, the `LaunchConfig`,
to the engine's stdin, and later commands (`stop`) as further lines. Closing stdin (the app went
away) stops the engine too, so an engine never outlives its app holding GPU memory.

The engine answers with JSON event lines on its stdout:
  {"event": "loading", "pid": 123}     the HTTP socket is served; the model is loading
  {"event": "progress", "fraction": 0.42}  share of the weights loaded (steps of ~1 %, then 1.0)
  {"event": "ready", "pid": 123}       the model is loaded; requests are served
  {"event": "failed", "error": "..."}  the model could not be loaded (the text is for the user)
  {"event": "stopped"}                 a clean exit follows (also after a cancelled load)
Its logs go to stderr.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cocoon_desktop.engine.types import EngineSettings, SandboxStatus

STOP_COMMAND = "stop"


@dataclass(frozen=True)
class LaunchConfig:
    token: str = field(repr=False)
    settings: EngineSettings
    sandbox: SandboxStatus  # what the supervisor set up; the engine checks it from the inside

    def to_line(self) -> bytes:
        settings = asdict(self.settings)
        settings["model_path"] = str(self.settings.model_path)
        draft = self.settings.draft_model_path
        settings["draft_model_path"] = str(draft) if draft is not None else None
        payload = {"token": self.token, "settings": settings, "sandbox": asdict(self.sandbox)}
        return json.dumps(payload).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> LaunchConfig:
        try:
            data = json.loads(line)
            settings = dict(data["settings"])
            settings["model_path"] = Path(settings["model_path"])
            draft = settings.get("draft_model_path")
            settings["draft_model_path"] = Path(draft) if draft else None
            return cls(token=str(data["token"]), settings=EngineSettings(**settings),
                       sandbox=SandboxStatus(**data["sandbox"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"the engine's launch configuration is unreadable ({exc}); the "
                             "engine is started by the app, not by hand") from None


def stop_command(drain_timeout_s: float) -> bytes:
    return json.dumps({"command": STOP_COMMAND, "drain_timeout_s": drain_timeout_s}).encode() + \
        b"\n"


def event_line(event: str, **fields: Any) -> str:
    return json.dumps({"event": event, **fields}) + "\n"


def parse_line(line: bytes) -> dict[str, Any] | None:
    """A JSON object line, or None when the line is something else (never raises)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
