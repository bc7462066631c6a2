"""Reading a rig file (TOML, stdlib `tomllib`) into a `NodeConfig`, every problem named.

Secrets are never in the file: the node wallet key lives in the OS keyring (import it once with
`cocoon-desktop serve --import-worker-conf worker.conf`). Relative paths are relative to the
rig file's folder. Unknown keys are errors (with the nearest known key), so a typo never
silently falls back to a default.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cocoon_desktop.earnings.figures import TonPrice
from cocoon_desktop.hardware.energy import Tariff
from cocoon_desktop.hardware.protection.settings import ProtectionSettings
from cocoon_desktop.hardware.units import MiB
from cocoon_desktop.headless.rig_schema import BY_DOTTED, SECTIONS
from cocoon_desktop.network.transport import Endpoint
from cocoon_desktop.node.config import ATTESTATION_KINDS, MAX_INSTANCE, VM_MODES, NodeConfig
from cocoon_desktop.protocol.model_names import CocoonModelName
from cocoon_desktop.protocol.money import ton_to_nanoton
from cocoon_desktop.settings import NetworkKind, ServeFrom
from cocoon_desktop.wallet.address import parse_address
from cocoon_desktop.wallet.errors import AddressError


class RigFileError(ValueError):
    """The rig file cannot be used; `problems` lists each key that is wrong and why."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The rig file {path} cannot be used:\n{lines}\nCorrect it and start "
                         "again (installers/systemd/rig.example.toml lists every key).")


def load_rig_file(path: Path, instance: int | None = None, headless: bool = True
                  ) -> NodeConfig:
    """Read and check `path`; `instance` (from --instance) overrides the file's."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RigFileError(path, [f"it cannot be read: {exc.strerror or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise RigFileError(path, [f"it is not valid TOML: {exc}"]) from None
    except UnicodeDecodeError:
        raise RigFileError(path, ["it is not UTF-8 text"]) from None
    values, problems = _flatten(raw)
    reader = _Reader(values, path.parent, problems)
    config = reader.config(instance, headless)
    if config.upstream_gateway_port and \
            config.upstream_gateway_port == config.resolved_stats_port:
        problems.append(f"`engine.upstream_gateway_port` is {config.upstream_gateway_port}, "
                        "the stats port of this instance: give the gateway another port")
    if problems:
        raise RigFileError(path, problems)
    return config


def _flatten(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """{"section.key": value} with each value checked against its key's type."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in raw.items():
        if isinstance(value, dict):
            if name not in SECTIONS:
                problems.append(f"[{name}] is not a section{_nearest(name, SECTIONS)}")
                continue
            items = [(f"{name}.{k}", v) for k, v in value.items()]
        else:
            items = [(name, value)]
        for dotted, item in items:
            key = BY_DOTTED.get(dotted)
            if key is None:
                problems.append(f"`{dotted}` is not a rig setting{_nearest(dotted, BY_DOTTED)}")
            elif (why := _type_problem(key.kind, item)) is not None:
                problems.append(f"`{dotted}` {why}")
            else:
                values[dotted] = float(item) if key.kind is float else item
    return values, problems


def _shown(value: float) -> str:
    """A number as the user wrote it, cut short when it is long (a 400-digit typo)."""
    text = str(value) if isinstance(value, int) else f"{value:g}"
    return text if len(text) <= 24 else f"{text[:12]}…({len(text)} digits)"


def _nearest(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _type_problem(kind: type, value: Any) -> str | None:
    if kind is bool and not isinstance(value, bool):
        return "must be true or false"
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        shown = _shown(value) if isinstance(value, float) else repr(value)[:40]
        return f"must be a whole number (got {shown})"
    if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"must be a number (got {value!r})"
    if kind is float and (abs(value) > 1e300 or not math.isfinite(value)):
        return f"must be a finite number (got {_shown(value)})"
    if kind is str and not isinstance(value, str):
        return f"must be text in quotes (got {value!r})"
    if kind is list and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return "must be a list of texts, e.g. [\"a\", \"b\"]"
    return None


@dataclass
class _Reader:
    values: dict[str, Any]
    base: Path
    problems: list[str]

    def get(self, dotted: str) -> Any:
        return self.values.get(dotted, BY_DOTTED[dotted].default)

    def number(self, dotted: str, low: float, high: float) -> Any:
        value = self.get(dotted)
        if not low <= value <= high:  # exact for ints of any size; finite floats only here
            self.problems.append(f"`{dotted}` must be between {low:g} and {high:g} "
                                 f"(got {_shown(value)})")
            return BY_DOTTED[dotted].default if BY_DOTTED[dotted].default is not None else low
        return value

    def path(self, dotted: str, must_exist: bool = True) -> Path | None:
        text = self.get(dotted).strip()
        if not text:
            return None
        path = Path(text).expanduser()
        path = path if path.is_absolute() else self.base / path
        if must_exist and not path.exists():
            self.problems.append(f"`{dotted}`: {path} does not exist")
        return path

    def choice(self, dotted: str, allowed: tuple[str, ...]) -> str:
        value = self.get(dotted).strip()
        if value not in allowed:
            self.problems.append(f"`{dotted}` must be one of {', '.join(allowed)} "
                                 f"(got {value!r})")
        return value

    def address(self, dotted: str) -> str:
        text = self.get(dotted).strip()
        if text:
            try:
                parse_address(text)
            except AddressError as exc:
                self.problems.append(f"`{dotted}`: {exc.what} {exc.what_to_do}".strip())
        return text

    def config(self, instance: int | None, headless: bool) -> NodeConfig:
        if instance is None:
            instance = self.number("instance", 0, MAX_INSTANCE)
        kinds = tuple(k.value for k in NetworkKind)
        kind = self.choice("network.kind", kinds)
        network = NetworkKind(kind) if kind in kinds else NetworkKind.DEVNET
        home = self.get("home").strip()
        return NodeConfig(
            instance=instance, home=(self.base / Path(home).expanduser()) if home else None,
            network=network, **self._network(network), **self._worker(), **self._model(),
            **self._vm(), **self._gpu(), **self._earnings(), **self._stats(),
            drain_timeout_s=self.number("shutdown.drain_timeout_s", 0, 3600),
            headless=headless)

    def _network(self, network: NetworkKind) -> dict[str, Any]:
        root_file = self.path("network.root_config_file")
        contract = self.address("network.root_contract_address")
        if network is not NetworkKind.DEVNET and root_file is None and not contract:
            self.problems.append(f"a {network.value} node needs `network.root_contract_address`"
                                 " or `network.root_config_file`")
        proxies = tuple(p.strip() for p in self.get("network.proxies"))
        for proxy in proxies:
            try:
                Endpoint.parse(proxy)
            except ValueError as exc:
                self.problems.append(f"`network.proxies`: {exc}")
        collateral_url = self.get("network.collateral_url").strip()
        if not collateral_url.startswith(("https://", "http://")):
            self.problems.append("`network.collateral_url` must be an http(s) URL of a PCCS "
                                 f"or Intel's PCS (got {collateral_url!r})")
        statuses = tuple(s.strip() for s in self.get("network.accepted_tcb_statuses"))
        if not statuses:
            self.problems.append("`network.accepted_tcb_statuses` must name at least one "
                                 "status, e.g. [\"UpToDate\"]")
        return {"root_config_file": root_file, "root_contract_address": contract,
                "ton_config_file": self.path("network.ton_config"), "proxies": proxies,
                "attestation": self.choice("network.attestation", ATTESTATION_KINDS),
                "collateral_url": collateral_url, "accepted_tcb_statuses": statuses}

    def _worker(self) -> dict[str, Any]:
        return {"owner_address": self.address("worker.owner_address"),
                "coefficient": self.number("worker.coefficient", 1, 1_000_000),
                "max_active_requests": self.number("worker.max_active_requests", 1, 256)}

    def _model(self) -> dict[str, Any]:
        path = self.path("model.path")
        if path is not None and path.suffix.lower() != ".gguf":
            self.problems.append(f"`model.path`: {path} is not a .gguf model file")
        name = self.get("model.name").strip()
        if name and ("@" in name or ":" in name):
            try:
                CocoonModelName.parse(name)
            except ValueError as exc:
                self.problems.append(f"`model.name`: {exc}")
        elif name and any(c.isspace() for c in name):
            self.problems.append("`model.name` cannot contain spaces")
        if name and path is None:
            self.problems.append(f"`model.name` announces {name!r}: set `model.path` to a GGUF "
                                 "file of that model (the bundled model is announced under "
                                 "its own name)")
        return {"model_path": path, "model_name": name,
                "context_tokens": self.number("model.context_tokens", 256, 1_048_576),
                "gpu_layers": self.number("model.gpu_layers", -1, 10_000),
                "threads": self.number("model.threads", 0, 1024),
                "speculative": self.get("model.speculative"),
                "draft_model_path": self._draft_path(),
                "upstream_gateway_port": self.number("engine.upstream_gateway_port", 0, 65535)}

    def _draft_path(self) -> Path | None:
        path = self.path("model.draft_path")
        if path is not None and path.suffix.lower() != ".gguf":
            self.problems.append(f"`model.draft_path`: {path} is not a .gguf model file")
        return path

    def _vm(self) -> dict[str, Any]:
        serve_from = self.choice("engine.serve_from", tuple(s.value for s in ServeFrom))
        return {"serve_from": ServeFrom(serve_from) if serve_from in tuple(ServeFrom)
                else ServeFrom.SANDBOX,
                "vm_mode": self.choice("vm.mode", VM_MODES),
                "vm_memory_mib": self.number("vm.memory_mib", 512, 262_144),
                "vm_cpus": self.number("vm.cpus", 1, 256),
                "vm_gpu_passthrough": self.get("vm.gpu_passthrough")}

    def _gpu(self) -> dict[str, Any]:
        headroom = self.number("gpu.vram_headroom_mib", 0, 65536)
        try:
            protection = ProtectionSettings(
                pause_temperature_c=self.number("gpu.pause_temperature_c", 40, 110),
                resume_temperature_c=self.number("gpu.resume_temperature_c", 0, 109),
                pause_on_throttle=self.get("gpu.pause_on_throttle"),
                vram_headroom_bytes=headroom * MiB, game_mode=self.get("gpu.game_mode"))
        except ValueError as exc:
            self.problems.append(f"[gpu]: {exc}")
            protection = ProtectionSettings()
        games = tuple(n.strip() for n in self.get("gpu.game_mode_processes") if n.strip())
        for name in games:
            if "/" in name or "\\" in name:
                self.problems.append(f"`gpu.game_mode_processes`: {name!r} is a path; give "
                                     "process names such as \"steam\"")
        return {"gpu": self.get("gpu.device").strip(), "protection": protection,
                "game_mode_processes": games,
                "monitoring_interval_s": self.number("gpu.monitoring_interval_s", 0.2, 60)}

    def _earnings(self) -> dict[str, Any]:
        price = self.number("earnings.tariff_per_kwh", 0, 100)
        currency = self.get("earnings.tariff_currency").strip().upper()
        if not (len(currency) == 3 and currency.isalpha()):
            self.problems.append("`earnings.tariff_currency` must be three letters, e.g. EUR")
        ton = self.number("earnings.ton_price", 0, 1_000_000)
        return {
            "tariff": Tariff(Decimal(str(price)), currency) if price > 0 else None,
            "ton_price": TonPrice(currency, ton_to_nanoton(ton)) if ton > 0 else None,
            "payout_check_interval_s": self.number("earnings.payout_check_interval_s", 30,
                                                   86400),
            "chain_sync_interval_s": self.number("earnings.chain_sync_interval_s", 60, 86400)}

    def _stats(self) -> dict[str, Any]:
        port = self.values.get("stats.port")
        if port is not None:
            self.number("stats.port", 0, 65535)
        listen = self.get("stats.listen").strip()
        try:
            ipaddress.ip_address(listen)
        except ValueError:
            self.problems.append(f"`stats.listen` must be an IP address such as 127.0.0.1 "
                                 f"(got {listen!r})")
        certificate, key = self.path("stats.tls_certificate"), self.path("stats.tls_key")
        if (certificate is None) != (key is None):
            self.problems.append("`stats.tls_certificate` and `stats.tls_key` go together: "
                                 "give both, or neither")
        accept_risk = self.get("stats.accept_plain_http_risk")
        if not _is_loopback(listen) and certificate is None and not accept_risk:
            self.problems.append(
                f"`stats.listen` is {listen}, reachable from other machines, and the stats "
                "token would cross the network in clear HTTP: set `stats.tls_certificate` and "
                "`stats.tls_key`, or `stats.accept_plain_http_risk = true` if you accept that")
        return {"stats_port": port, "stats_listen": listen,
                "stats_token_file": self.path("stats.token_file"),
                "stats_tls_certificate": certificate, "stats_tls_key": key,
                "stats_accept_plain_http_risk": accept_risk}


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return True  # reported above as not an IP address
