"""The app's settings: a Qt-free, frozen, validated model persisted as JSON.

Nothing here is a secret (secrets live in the OS keyring); the file is still written private to
the user (0600), atomically (write a temporary file, then rename), so a crash never leaves half a
file. A file that cannot be read is never thrown away: it is kept beside the new one as
`settings.json.unreadable-<time>` and the app starts with defaults, saying so.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SETTINGS_VERSION = 1


class Theme(StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


class NetworkKind(StrEnum):
    """Where the worker serves: the local devnet, a Cocoon test network, or mainnet."""

    DEVNET = "devnet"
    TESTNET = "testnet"
    MAINNET = "mainnet"


class ServeFrom(StrEnum):
    """Where the engine and the worker run: this computer's sandbox (a bubblewrap process), or
    a confidential VM (docs/areas/vm.md)."""

    SANDBOX = "sandbox"
    VM = "vm"


class SettingsError(ValueError):
    """One or more settings are invalid; `problems` maps each field to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        text = "; ".join(f"{name}: {why}" for name, why in self.problems.items())
        super().__init__(f"Some settings are not valid ({text}). Correct them and save again.")


@dataclass(frozen=True)
class AppSettings:
    """Every user preference the app keeps. Units are in the names."""

    # Appearance and desktop integration
    theme: Theme = Theme.SYSTEM
    autostart: bool = False
    start_minimized: bool = False
    notifications: bool = True
    # First run
    wizard_completed: bool = False
    # Serving
    serve_on_start: bool = False
    serving_at_quit: bool = False  # the app was serving when it last quit
    resume_asked: bool = False  # "Resume serving when the app starts?" was answered (ask once)
    network: NetworkKind = NetworkKind.DEVNET
    network_endpoint: str = ""  # proxy host:port, or a root-config file; empty = network default
    ton_config_path: str = ""  # a liteserver config file; empty = the network's global config
    owner_address: str = ""  # public: where payouts go (never a secret)
    coefficient: int = 1000  # Cocoon price coefficient, 1000 = 1.0x
    max_active_requests: int = 4
    serve_from: ServeFrom = ServeFrom.SANDBOX
    # Model
    model_path: str = ""  # empty = the bundled default model
    gpu_layers: int = -1  # -1 = as many as fit
    context_tokens: int = 4096
    speculative_decoding: bool = True  # draft tokens from the prompt (or the draft model)
    draft_model_path: str = ""  # a small model of the same family; empty = drafts by lookup
    # Protection (GPU health)
    pause_temperature_c: int = 83
    resume_temperature_c: int = 75
    pause_on_throttle: bool = True
    vram_headroom_mib: int = 512
    game_mode_processes: tuple[str, ...] = ()
    monitoring_interval_s: float = 1.0
    # Money
    tariff_per_kwh: float = 0.0
    tariff_currency: str = "USD"
    ton_price: float = 0.0  # one TON in `tariff_currency`, for net figures; 0 = not set
    payout_threshold_ton: float = 5.0
    # Chat defaults
    chat_system_prompt: str = "You are a helpful assistant."
    chat_temperature: float = 0.7
    chat_top_p: float = 0.95
    chat_max_tokens: int = 512
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def problems(self) -> dict[str, str]:
        """Each invalid field with what is wrong and what range is allowed (empty when valid)."""
        return _problems(self)

    def validated(self) -> AppSettings:
        """Return self, or raise SettingsError naming every invalid field."""
        found = self.problems()
        if found:
            raise SettingsError(found)
        return self

    def with_changes(self, **changes: Any) -> AppSettings:
        """A validated copy with `changes` applied (raises SettingsError, leaving self intact)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise SettingsError({name: "no such setting" for name in sorted(unknown)})
        return dataclasses.replace(self, **_coerce_all(changes)).validated()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": SETTINGS_VERSION}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            data[f.name] = list(value) if isinstance(value, tuple) else value
        data.update(self.extra)  # keys from a newer version survive a round trip
        return data


def _range(value: float, low: float, high: float, unit: str = "") -> str | None:
    if not low <= value <= high:
        return f"must be between {low:g} and {high:g}{unit} (got {value:g})"
    return None


def _problems(s: AppSettings) -> dict[str, str]:
    checks: dict[str, str | None] = {
        "pause_temperature_c": _range(s.pause_temperature_c, 40, 100, " °C"),
        "resume_temperature_c": _range(s.resume_temperature_c, 30, 95, " °C"),
        "vram_headroom_mib": _range(s.vram_headroom_mib, 0, 65536, " MiB"),
        "monitoring_interval_s": _range(s.monitoring_interval_s, 0.2, 60, " s"),
        "tariff_per_kwh": _range(s.tariff_per_kwh, 0, 100),
        "ton_price": _range(s.ton_price, 0, 1_000_000),
        "payout_threshold_ton": _range(s.payout_threshold_ton, 0, 1_000_000, " TON"),
        "coefficient": _range(s.coefficient, 1, 1_000_000),
        "max_active_requests": _range(s.max_active_requests, 1, 256),
        "gpu_layers": _range(s.gpu_layers, -1, 10_000),
        "context_tokens": _range(s.context_tokens, 256, 1_048_576, " tokens"),
        "chat_temperature": _range(s.chat_temperature, 0, 2),
        "chat_top_p": _range(s.chat_top_p, 0.01, 1),
        "chat_max_tokens": _range(s.chat_max_tokens, 1, 32768, " tokens"),
    }
    if s.resume_temperature_c >= s.pause_temperature_c:
        checks["resume_temperature_c"] = (
            f"must be below the pause temperature ({s.pause_temperature_c} °C) so the GPU "
            "can cool down before serving resumes"
        )
    if not (len(s.tariff_currency) == 3 and s.tariff_currency.isalpha()):
        checks["tariff_currency"] = "must be a three-letter currency code such as USD or EUR"
    for name in s.game_mode_processes:
        if not name.strip() or "/" in name or "\\" in name:
            checks["game_mode_processes"] = (
                f"{name!r} is not a process name; give names such as 'steam' or 'game.exe'"
            )
    if s.model_path and not s.model_path.lower().endswith(".gguf"):
        checks["model_path"] = "must be a .gguf model file (or empty for the bundled model)"
    if s.draft_model_path and not s.draft_model_path.lower().endswith(".gguf"):
        checks["draft_model_path"] = "must be a .gguf model file (or empty for none)"
    return {name: why for name, why in checks.items() if why}


_ENUMS: dict[str, type[StrEnum]] = {"theme": Theme, "network": NetworkKind,
                                    "serve_from": ServeFrom}
_TYPES: dict[str, type] = {
    f.name: type(f.default) for f in fields(AppSettings) if f.name != "extra"
}


def _coerce(name: str, value: Any) -> Any:
    """Turn a JSON value into the field's type, or raise ValueError saying why."""
    if name in _ENUMS:
        try:
            return _ENUMS[name](value)
        except ValueError:
            allowed = ", ".join(m.value for m in _ENUMS[name])
            raise ValueError(f"must be one of {allowed} (got {value!r})") from None
    kind = _TYPES[name]
    if kind is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of names")
        return tuple(v.strip() for v in value if v.strip())
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise ValueError(f"must be a whole number (got {value!r})")
        return int(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number (got {value!r})")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value.strip()


def _coerce_all(changes: dict[str, Any]) -> dict[str, Any]:
    out, problems = {}, {}
    for name, value in changes.items():
        if name == "extra":
            out[name] = value
            continue
        try:
            out[name] = _coerce(name, value)
        except ValueError as exc:
            problems[name] = str(exc)
    if problems:
        raise SettingsError(problems)
    return out


@dataclass(frozen=True)
class LoadedSettings:
    """Settings as loaded, with what had to be repaired (shown to the user once)."""

    settings: AppSettings
    warnings: tuple[str, ...] = ()


def load_settings(path: Path) -> LoadedSettings:
    """Read `path`; a missing file gives defaults, a damaged one is kept aside and repaired.

    Fields with bad values fall back to their defaults one by one (the rest is kept); unknown
    keys (from a newer version) are preserved untouched.
    """
    if not path.exists():
        return LoadedSettings(AppSettings())
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("the file does not hold a JSON object")
    except (OSError, ValueError) as exc:
        kept = _keep_aside(path)
        return LoadedSettings(
            AppSettings(),
            (f"Your settings file could not be read ({exc}); defaults are in use. The old file "
             f"was kept as {kept.name} in {kept.parent}.",),
        )
    return _from_mapping(raw)


def _from_mapping(raw: dict[str, Any]) -> LoadedSettings:
    known = {f.name for f in fields(AppSettings)} - {"extra"}
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for name in known & raw.keys():
        try:
            values[name] = _coerce(name, raw[name])
        except ValueError as exc:
            warnings.append(f"Setting '{name}' {exc}; the default is used instead.")
    extra = {k: v for k, v in raw.items() if k not in known and k != "version"}
    settings = dataclasses.replace(AppSettings(), **values, extra=extra)
    for name, why in settings.problems().items():
        warnings.append(f"Setting '{name}' {why}; the default is used instead.")
        settings = dataclasses.replace(settings, **{name: getattr(AppSettings(), name)})
    if settings.problems():  # a pair (pause/resume) can stay inconsistent: reset both
        defaults = AppSettings()
        settings = dataclasses.replace(
            settings,
            pause_temperature_c=defaults.pause_temperature_c,
            resume_temperature_c=defaults.resume_temperature_c,
        )
    return LoadedSettings(settings, tuple(warnings))


def save_settings(path: Path, settings: AppSettings) -> None:
    """Validate, then write atomically and private to the user (raises SettingsError, OSError)."""
    settings.validated()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    text = json.dumps(settings.to_json(), indent=2, sort_keys=True) + "\n"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _keep_aside(path: Path) -> Path:
    kept = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        path.replace(kept)
    except OSError as exc:  # read-only folder: leave the file where it is
        log.warning("could not move the unreadable settings file aside: %s", exc)
        return path
    log.warning("settings file was unreadable; kept it as %s", kept)
    return kept
