"""A ServingControl that writes down what protection asked it to do (a test helper)."""

from __future__ import annotations


class RecordingControl:
    """A ServingControl that writes down what it was asked to do."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.reasons: list[str] = []

    def pause_network_jobs(self, reason: str) -> None:
        self.calls.append("pause")
        self.reasons.append(reason)

    def resume_network_jobs(self) -> None:
        self.calls.append("resume")

    def unload_model(self, reason: str) -> None:
        self.calls.append("unload")
        self.reasons.append(reason)

    def reload_model(self) -> None:
        self.calls.append("reload")

    def stop_engine(self, reason: str) -> None:
        self.calls.append("stop")
        self.reasons.append(reason)
