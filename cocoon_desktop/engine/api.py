"""The engine's HTTP contract, shared by the engine process and its clients: lanes, the body
limit, errors in OpenAI's shape."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

# Which lane a request queues in (engine/process/queue.py): the chat or the network jobs.
LANE_HEADER = "X-Cocoon-Lane"


class Lane(StrEnum):
    CHAT = "chat"
    NETWORK = "network"


MAX_BODY_BYTES = 8 * 1024 * 1024  # the largest request body the engine reads


class ApiError(Exception):
    """An error the HTTP layer answers with `status` and an OpenAI-style error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "code": self.code,
                "param": self.param,
            }
        }
