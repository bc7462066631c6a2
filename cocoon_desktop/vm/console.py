"""What the guest's serial console says, read on the host: boot progress, why a guest stopped,
and each line as a log record (the Logs page shows the guest console beside the app's own).

The initrd, the root's init and the agent print `cocoon-boot: …` lines at each step of the
boot; the agent's own log lines are `LEVEL logger: message` (its logging format). Nothing the
guest prints holds a prompt or an answer: the agent never logs a request's content.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

console_log = logging.getLogger("cocoon_desktop.vm.console")
BOOT_PREFIX = "cocoon-boot:"
LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
          "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}
# The share of the boot done once the engine starts loading the model; loading is the rest.
ENGINE_LOAD_STARTS_AT = 0.5


@dataclass(frozen=True)
class BootStep:
    marker: str  # what the console line holds
    loading: bool  # the guest agent runs (the engine is next), not only the kernel
    progress_fraction: float  # share of the whole start done at this step
    detail: str


BOOT_STEPS = (
    BootStep("initrd started", False, 0.1,
             "The guest kernel runs; checking the root filesystem (dm-verity)."),
    BootStep("root verified", False, 0.25, "The root filesystem matches its hash."),
    BootStep("config measured", True, 0.35, "The guest measured its configuration."),
    BootStep("model disk verified", True, 0.45,
             "The model disk matches its hash; the engine starts."),
    BootStep("control channel open", True, ENGINE_LOAD_STARTS_AT,
             "The guest agent answers; the engine loads the model."),
)


def boot_step(line: str) -> BootStep | None:
    """The step a console line announces, if it is one."""
    if BOOT_PREFIX not in line:
        return None
    return next((step for step in BOOT_STEPS if step.marker in line), None)


def loading_progress(load_fraction: float | None) -> float:
    """The whole start's progress while the guest engine loads `load_fraction` of the model."""
    return ENGINE_LOAD_STARTS_AT + (1 - ENGINE_LOAD_STARTS_AT) * (load_fraction or 0.0)


def log_console_line(line: str) -> None:
    """One console line into the app's log (and so the Logs page), at the guest's level."""
    if not line.strip():
        return
    level_name = line.split(" ", 1)[0]
    console_log.log(LEVELS.get(level_name, logging.INFO), "%s", line)


def failure_reason(console_tail: list[str], exit_code: int | None = None) -> str:
    """Why a guest stopped, from the last lines of its console (and QEMU's exit status)."""
    text = "\n".join(console_tail)
    for line in reversed(console_tail):
        if f"{BOOT_PREFIX} failed:" in line:
            return "The VM failed to start: " + line.split("failed:", 1)[1].strip()
    if "verity" in text and ("corrupt" in text or "panic" in text.lower()):
        return ("The VM stopped: a disk failed its integrity check (dm-verity): the image or "
                "the model disk was changed on disk. Rebuild the image "
                "(scripts/build-vm-image.sh) and check the model file.")
    if "Kernel panic" in text:
        return "The guest kernel panicked: see the VM's console log."
    status = f" with status {exit_code}" if exit_code is not None else ""
    return f"QEMU exited{status}: " + (" / ".join(console_tail[-3:]) or "no output")
