"""`cocoon-desktop self-test` (or `cocoon-desktop --self-test`): check an installed app end to end.

Meant for the person who just installed the app (or a rig's admin over SSH) and for CI on the
frozen bundle: it touches every part that a build can lose (Qt plugins, llama.cpp's shared
libraries, the model file, keyring backends found through package metadata) and says, per part,
what is the case and what to do. Checks, in order:

- gui (essential): Qt starts (offscreen unless `--qt-platform` says otherwise), draws the app
  icon (Qt's SVG plugin), opens the main window and closes it. It runs in a child process of the
  app, because Qt aborts the whole process when a platform plugin cannot load; the child's last
  words are then the reason shown.
- model (essential): the bundled model file is there, its bytes match its package's record, and
  its metadata reads; its Cocoon name is derived as the app would.
- engine (essential): the real engine process (sandboxed as the app would) loads that model and
  answers one chat prompt.
- keyring: which OS keyring backend would hold the wallet's secrets, usable or why not. It reads
  and writes no secret (a locked keyring is reported, not unlocked).
- nvml: the NVIDIA driver and its GPUs, or why there are none (the app then serves from the CPU).

Exit status: 0 when every essential check passed (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cocoon_desktop import __version__

CHECKS = ("gui", "model", "engine", "keyring", "nvml")
ESSENTIAL = frozenset({"gui", "model", "engine"})
DEFAULT_PROMPT = "Say hello in one short sentence."
GUI_CHILD_TIMEOUT_S = 60
CHILD_TAIL_LINES = 6


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    summary: str  # what is the case, in one sentence or two
    fix: str = ""  # what to do next; empty when ok
    duration_s: float = 0.0

    @property
    def essential(self) -> bool:
        return self.name in ESSENTIAL


class CheckFailed(Exception):
    """A check found a problem: `summary` says what, `fix` what to do."""

    def __init__(self, summary: str, fix: str) -> None:
        super().__init__(summary)
        self.summary = summary
        self.fix = fix


def app_command() -> list[str]:
    """How to run this app's CLI again: the frozen binary itself, or this Python with -m."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "cocoon_desktop"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Check this installation end to end (GUI toolkit, bundled model, "
                          "engine, keyring, NVIDIA driver), print a summary, then exit: 0 when "
                          "everything essential works.")
    parser.add_argument("--only", choices=CHECKS, action="append",
                        help="run only this check (repeatable)")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT, help="what to ask the engine")
    parser.add_argument("--timeout-s", type=float, default=180.0,
                        help="how long the engine may take to load and answer (default 180)")
    parser.add_argument("--sandbox", choices=("auto", "bwrap", "unshare", "none"),
                        default="auto", help="the engine's isolation (default: the best found)")
    parser.add_argument("--qt-platform", default="offscreen",
                        help="Qt platform for the GUI check: offscreen (default, no display "
                             "needed), or xcb/wayland to check the desktop session's own")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON instead of text")
    parser.add_argument("--gui-child", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.gui_child:
        print(json.dumps(asdict(_timed("gui", lambda: gui_in_process(args.qt_platform)))))
        return 0
    runners: dict[str, Callable[[], str]] = {
        "gui": lambda: gui_in_child(args.qt_platform),
        "model": check_model,
        "engine": lambda: check_engine(args.prompt, args.timeout_s, args.sandbox),
        "keyring": check_keyring,
        "nvml": check_nvml,
    }
    wanted = [name for name in CHECKS if not args.only or name in args.only]
    if not args.json:
        print(header())
    results = []
    for name in wanted:
        result = _timed(name, runners[name])
        results.append(result)
        if not args.json:
            print(format_result(result), flush=True)
    passed = all(r.ok for r in results if r.essential)
    if args.json:
        print(json.dumps({"version": __version__, "frozen": bool(getattr(sys, "frozen", False)),
                          "passed": passed, "checks": [asdict(r) for r in results]}, indent=2))
    else:
        print(verdict(results))
    return 0 if passed else 1


def header() -> str:
    if getattr(sys, "frozen", False):
        where = f"the app bundle in {Path(sys.executable).resolve().parent}"
    else:
        where = f"from source, Python {sys.version.split()[0]}"
    return f"Cocoon Desktop {__version__} self-test ({where})"


def format_result(result: CheckResult) -> str:
    mark = "ok  " if result.ok else ("FAIL" if result.essential else "warn")
    line = f"  {mark}  {result.name:<8} {result.summary} ({result.duration_s:.1f} s)"
    return line + (f"\n{'':16}What to do: {result.fix}" if result.fix else "")


def verdict(results: list[CheckResult]) -> str:
    failed = [r.name for r in results if r.essential and not r.ok]
    warned = [r.name for r in results if not r.essential and not r.ok]
    if failed:
        return f"Self-test FAILED: {', '.join(failed)} (see above for what to do)."
    note = f" with warnings: {', '.join(warned)} (optional parts)" if warned else ""
    return f"Self-test passed{note}."


def _timed(name: str, check: Callable[[], str]) -> CheckResult:
    started = time.monotonic()
    try:
        summary = check()
    except CheckFailed as exc:
        return CheckResult(name, False, exc.summary, exc.fix, time.monotonic() - started)
    except Exception as exc:  # a self-test reports every failure, it never crashes
        return CheckResult(name, False, f"Unexpected error: {type(exc).__name__}: {exc}",
                           "Report this with the full output of the self-test.",
                           time.monotonic() - started)
    return CheckResult(name, True, summary, "", time.monotonic() - started)


# -- gui -------------------------------------------------------------------------------------
def gui_in_child(qt_platform: str) -> str:
    """Run the Qt check in a child process: a Qt platform that cannot load aborts the process."""
    command = [*app_command(), "self-test", "--gui-child", "--qt-platform", qt_platform]
    try:
        child = subprocess.run(command, capture_output=True, text=True,
                               timeout=GUI_CHILD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"Qt did not start within {GUI_CHILD_TIMEOUT_S} s.",
                          "Retry; if it hangs again, run with --qt-platform offscreen.") from None
    lines = child.stdout.strip().splitlines()
    try:
        result = CheckResult(**json.loads(lines[-1]))
    except (IndexError, ValueError, TypeError):
        tail = " | ".join(child.stderr.strip().splitlines()[-CHILD_TAIL_LINES:])
        raise CheckFailed(f"Qt could not start with the '{qt_platform}' platform (exit status "
                          f"{child.returncode}): {tail or 'no message'}",
                          _qt_fix(qt_platform, child.stderr)) from None
    if not result.ok:
        raise CheckFailed(result.summary, result.fix)
    return result.summary


def _qt_fix(qt_platform: str, stderr: str) -> str:
    if "could not connect to display" in stderr or "Failed to create wl_display" in stderr:
        return ("No desktop session could be reached (check DISPLAY or WAYLAND_DISPLAY), or "
                "run the check without a display: --qt-platform offscreen.")
    if qt_platform == "xcb":
        return ("Install the X11 libraries Qt needs: sudo apt install libxcb-cursor0 "
                "libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0 "
                "libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libx11-xcb1 libegl1 libgl1 "
                "(the .deb package declares them), and check that DISPLAY is set.")
    return "Reinstall the app; if that does not help, report this output."


def gui_in_process(qt_platform: str) -> str:
    """Start Qt, draw the app icon, open the real main window, close it (ui/window_check.py)."""
    os.environ["QT_QPA_PLATFORM"] = qt_platform  # must be set before the QApplication exists
    from cocoon_desktop.ui.window_check import WindowCheckFailed, open_and_close_main_window

    try:
        return open_and_close_main_window()
    except WindowCheckFailed as exc:
        raise CheckFailed(exc.summary, exc.fix) from None


# -- model -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BundledModel:
    path: Path
    cocoon_name: str
    summary: str


def check_model() -> str:
    return bundled_model().summary


@functools.cache
def bundled_model() -> BundledModel:
    """The bundled model, checked: present, intact (its package's recorded hash) and readable.

    Cached: the engine check uses the same file and name without hashing it again."""
    import importlib.metadata

    from cocoon_desktop.engine.models.bundled import (
        BUNDLED_DISPLAY_NAME,
        BUNDLED_DISTRIBUTION,
        BUNDLED_RELATIVE_PATH,
        bundled_model_path,
        local_model_name,
    )
    from cocoon_desktop.engine.models.file_hash import sha256_file
    from cocoon_desktop.engine.models.gguf_meta import ModelFileError, read_gguf_metadata

    reinstall = "Reinstall the app (or run scripts/run-app.sh in a source checkout)."
    try:
        path = bundled_model_path()
        metadata = read_gguf_metadata(path)
    except ModelFileError as exc:
        raise CheckFailed(str(exc), reinstall) from None
    digest = sha256_file(path)
    recorded = next((f.hash for f in importlib.metadata.distribution(BUNDLED_DISTRIBUTION).files
                     or () if f.as_posix() == BUNDLED_RELATIVE_PATH), None)
    if recorded is None or recorded.mode != "sha256":
        match = "no recorded hash to compare"
    elif _record_digest(digest) != recorded.value:
        raise CheckFailed(f"The bundled model file {path} is damaged: its SHA-256 does not "
                          "match its package's record.", reinstall)
    else:
        match = "SHA-256 matches its package record"
    name = str(local_model_name(metadata, path.name, digest))
    size_mb = path.stat().st_size / 1e6
    summary = (f"{BUNDLED_DISPLAY_NAME}, {size_mb:.0f} MB, {match}; Cocoon name "
               f"{name.split(':')[0]}:{digest[:12]}…")
    return BundledModel(path, name, summary)


def _record_digest(hex_digest: str) -> str:
    """A hex SHA-256 written the way wheel RECORD files write it (urlsafe base64, no padding)."""
    return base64.urlsafe_b64encode(bytes.fromhex(hex_digest)).rstrip(b"=").decode()


# -- engine ----------------------------------------------------------------------------------
def check_engine(prompt: str, timeout_s: float, sandbox: str) -> str:
    model = bundled_model()
    return asyncio.run(_engine_round_trip(model.path, model.cocoon_name, prompt, timeout_s,
                                          sandbox))


async def _engine_round_trip(model_path: Path, model_name: str, prompt: str, timeout_s: float,
                             sandbox: Any) -> str:
    from cocoon_desktop.engine.api import Lane
    from cocoon_desktop.engine.host.client import EngineClient, EngineError
    from cocoon_desktop.engine.host.supervisor import (
        EngineStartError,
        EngineSupervisor,
        RestartPolicy,
    )
    from cocoon_desktop.engine.types import EngineSettings
    from cocoon_desktop.protocol.model_names import base_model_name

    settings = EngineSettings(model_path=model_path, model_name=model_name, context_tokens=1024,
                              parallel_sequences=1, threads=max(1, min(4, os.cpu_count() or 1)),
                              max_queued_requests=1, max_completion_tokens=64)
    supervisor = EngineSupervisor(settings, sandbox_mode=sandbox, load_timeout_s=timeout_s,
                                  restart_policy=RestartPolicy(max_quick_crashes=1))
    started = time.monotonic()
    try:
        await supervisor.start()
        endpoint = await supervisor.wait_ready(timeout_s)
        loaded_s = time.monotonic() - started
        async with EngineClient(endpoint, lane=Lane.CHAT) as client:
            answer = await asyncio.wait_for(client.chat({
                "model": base_model_name(model_name), "max_tokens": 32, "temperature": 0,
                "messages": [{"role": "user", "content": prompt}]}), timeout_s)
        sandbox_status = supervisor.status.sandbox
    except (EngineStartError, EngineError) as exc:
        raise CheckFailed(f"The engine did not answer: {exc}",
                          "Run `cocoon-desktop-cli doctor`; try `--sandbox none` to see "
                          "whether the isolation is the cause.") from None
    except TimeoutError:
        raise CheckFailed(f"The engine did not answer within {timeout_s:.0f} s.",
                          "Retry with a longer --timeout-s on a busy machine.") from None
    finally:
        await supervisor.stop(drain_timeout_s=0)
    text = str(answer["choices"][0]["message"].get("content") or "").strip()
    tokens = int(answer.get("usage", {}).get("completion_tokens", 0))
    if not text or tokens < 1:
        raise CheckFailed("The engine answered with no text.", "Report this output.")
    isolation = (f"sandbox {sandbox_status.kind}"
                 f"{', no network' if sandbox_status.network_isolated else ', NOT isolated'}"
                 if sandbox_status else "sandbox unknown")
    quoted = text if len(text) <= 60 else text[:57] + "..."
    return (f"loaded in {loaded_s:.1f} s ({isolation}); answered {quoted!r} ({tokens} tokens in "
            f"{time.monotonic() - started - loaded_s:.1f} s).")


# -- keyring and NVML ------------------------------------------------------------------------
def check_keyring() -> str:
    import keyring

    from cocoon_desktop.wallet.secret_store import SecretStore

    status = SecretStore(prompt_to_unlock=False).status()
    chosen = type(keyring.get_keyring())
    backend = f"{chosen.__module__.removeprefix('keyring.backends.')}.{chosen.__name__}"
    if not status.usable:
        raise CheckFailed(f"{status.problem} (keyring backend: {backend})",
                          "Until then the app serves and chats, but cannot keep a wallet.")
    return f"keyring backend {backend} is usable (no secret was read)."


def check_nvml() -> str:
    import pynvml

    from cocoon_desktop.hardware.gpu.nvml import Nvml

    nvml = Nvml()
    try:
        status = nvml.status()
        if not status.ready:
            raise CheckFailed(status.summary, status.fix)
        names = [str(nvml.call(f"selftest.name.{index}",
                               lambda i=index: pynvml.nvmlDeviceGetName(
                                   pynvml.nvmlDeviceGetHandleByIndex(i))) or "unknown")
                 for index in range(nvml.device_count())]
        driver = nvml.call("selftest.driver", pynvml.nvmlSystemGetDriverVersion) or "unknown"
        return f"{status.summary} {', '.join(names)}; driver {driver}."
    finally:
        nvml.shutdown()
