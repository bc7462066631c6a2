"""Importing an upstream `worker.conf` (INI, section [node]) into a rig file.

What is used: `model` (the Cocoon name to announce; a GGUF of that model must be set as
`model.path`), `owner_address`, `worker_coefficient`, `instance`, `ton_config`,
`root_contract_address`, `gpu` (its PCI id selects the GPU: CUDA_VISIBLE_DEVICES is set to
that card), `http_port` (the stats port base), `test` / `fake_ton` (a test network) and
`node_wallet_key`, which goes into the OS keyring and never into the rig file. Every other key
is named with the reason it is ignored (`IGNORED`).

The pure parts live here; `headless.import_worker_conf` does the keyring and the files.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from cocoon_desktop.node.config import stats_port_for
from cocoon_desktop.node.status import NodeProblem

PLACEHOLDERS = ("", "[private]", "$node_wallet_key")
VM_ONLY = ("upstream's launcher runs the worker in a QEMU/TDX virtual machine; this app runs "
           "it as a process, so the VM's settings do not apply")
IGNORED: dict[str, str] = {
    "hf_token": "this app serves local GGUF files and downloads nothing from Hugging Face, so "
                "the token is not needed; it is not copied anywhere (it stays in worker.conf)",
    "model_tar": "upstream's packed model image for the VM; set `model.path` to a GGUF file",
    "persistent": "upstream's VM disk image; this instance keeps its data in its own folder",
    "ton_config_base": "the VM's base TON config; `ton_config` is all this app needs",
    "type": "checked (it must be `worker`), nothing else to carry over",
    **{key: VM_ONLY for key in ("ssh_port", "vsock_cid", "image-dir", "image_dir",
                                "build_dir", "external_ip", "external_worker_port",
                                "external_client_port", "local_run_dir")},
}


class WorkerConfError(ValueError):
    def __init__(self, problem: NodeProblem) -> None:
        self.problem = problem
        super().__init__(str(problem))


@dataclass
class WorkerConf:
    """What a worker.conf says, the key held apart (never printed, never written)."""

    instance: int
    values: dict[str, str]  # the keys that are used, by their upstream names
    node_wallet_key: str | None = field(default=None, repr=False)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (key, why)

    @property
    def network_kind(self) -> str:
        test = any(self.values.get(k, "").lower() in ("true", "yes", "1", "on")
                   for k in ("test", "fake_ton"))
        return "testnet" if test else "mainnet"


def read_worker_conf(path: Path, instance: int | None = None) -> WorkerConf:
    """Parse `path`; `instance` (from --instance) overrides the file's."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise WorkerConfError(NodeProblem(f"{path} cannot be read: {exc.strerror or exc}.",
                                          "Check the path and its permissions.")) from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise WorkerConfError(NodeProblem(f"{path} is not an INI file: {exc}.",
                                          "Pass upstream's worker.conf.")) from None
    if not parser.has_section("node"):
        raise WorkerConfError(NodeProblem(f"{path} has no [node] section.",
                                          "Pass upstream's worker.conf (it starts with [node])."))
    node = dict(parser.items("node"))
    kind = node.get("type", "worker").strip().lower()
    if kind != "worker":
        raise WorkerConfError(NodeProblem(f"{path} configures a {kind}, not a worker.",
                                          "Pass the worker's configuration."))
    return _classify(path, node, instance)


def _classify(path: Path, node: dict[str, str], instance: int | None) -> WorkerConf:
    used = ("model", "owner_address", "worker_coefficient", "ton_config",
            "root_contract_address", "gpu", "http_port", "test", "fake_ton")
    values = {k: node[k].strip() for k in used if node.get(k, "").strip()}
    if "ton_config" in values and not Path(values["ton_config"]).expanduser().is_absolute():
        values["ton_config"] = str((path.parent / values["ton_config"]).resolve())
    try:
        number = instance if instance is not None else int(node.get("instance", "0") or 0)
        for key in ("worker_coefficient", "http_port"):
            if key in values:
                int(values[key])
    except ValueError as exc:
        raise WorkerConfError(NodeProblem(f"{path}: a number is not a whole number ({exc}).",
                                          "Correct it in worker.conf.")) from None
    key = node.get("node_wallet_key", "").strip()
    ignored = [(k, IGNORED.get(k, "not known to this importer")) for k in sorted(node)
               if k not in used and k not in ("node_wallet_key", "instance")]
    return WorkerConf(number, values, None if key.lower() in PLACEHOLDERS else key, ignored)


def _toml(value: object) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


def rig_text(conf: WorkerConf, source: Path, keyring_service: str) -> str:
    """The rig file for `conf`, commented, without any secret."""
    v = conf.values
    lines = [f"# Imported from {source} on {time.strftime('%Y-%m-%d %H:%M')}.",
             f"# node_wallet_key is in the OS keyring (service {keyring_service}), not here.",
             f"instance = {conf.instance}", "", "[network]",
             f"kind = {_toml(conf.network_kind)}"]
    if "root_contract_address" in v:
        lines.append(f"root_contract_address = {_toml(v['root_contract_address'])}")
    if "ton_config" in v:
        lines.append(f"ton_config = {_toml(v['ton_config'])}")
    lines += ["", "[worker]"]
    if "owner_address" in v:
        lines.append(f"owner_address = {_toml(v['owner_address'])}")
    lines.append(f"coefficient = {int(v.get('worker_coefficient', '1000'))}")
    lines += ["", "[model]"]
    if "model" in v:
        lines += [f"name = {_toml(v['model'])}",
                  "# REQUIRED with a name: a GGUF file of that model (upstream's vLLM image is "
                  "not used here).", 'path = ""']
    if "gpu" in v:
        lines += ["", "[gpu]", f"device = {_toml(v['gpu'])}"]
    if "http_port" in v and int(v["http_port"]) != stats_port_for(0):
        lines += ["", "[stats]", f"port = {int(v['http_port']) + 10 * conf.instance}"]
    return "\n".join(lines) + "\n"


_KEY_LINE = re.compile(r"^(node_wallet_key\s*[=:])(.*)$", re.IGNORECASE)


def _key_value(text: str) -> str | None:
    """node_wallet_key as configparser reads it (continuation lines included)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    if not parser.has_option("node", "node_wallet_key"):
        return None
    return parser.get("node", "node_wallet_key").strip()


def _without_key(lines: list[str], note: str) -> list[str]:
    """`lines` with the key's line and its continuation lines (indented, or blank between
    indented ones, as configparser reads them) replaced by the placeholder."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        match = _KEY_LINE.match(lines[index].rstrip("\r\n"))
        index += 1
        if not match:
            out.append(lines[index - 1])
            continue
        while index < len(lines) and (lines[index][:1] in (" ", "\t") or (
                not lines[index].strip() and _continues(lines, index))):
            index += 1
        out += [note, f"{match.group(1).rstrip()} [PRIVATE]\n"]
    return out


def _continues(lines: list[str], index: int) -> bool:
    """A blank line belongs to a value when an indented line follows the blank ones."""
    following = next((line for line in lines[index:] if line.strip()), "")
    return following[:1] in (" ", "\t")


def scrub_key(path: Path, keyring_service: str) -> bool:
    """Replace the key's value in worker.conf by upstream's placeholder, atomically, keeping
    every other line and the file's mode. True when a key was removed. A key written over
    several lines (INI continuation lines) is removed whole; if the rewritten file would still
    hold any of it, nothing is written and WorkerConfError says to remove it by hand."""
    text = path.read_text(encoding="utf-8")
    secret = _key_value(text)
    if secret is None or secret.lower() in PLACEHOLDERS:
        return False
    note = (f"# node_wallet_key was moved into the OS keyring (service {keyring_service}) on "
            f"{time.strftime('%Y-%m-%d')}; back it up with `cocoon-desktop wallet node-key "
            "export`.\n")
    result = "".join(_without_key(text.splitlines(keepends=True), note))
    fragments = [part.strip() for part in secret.splitlines() if part.strip()]
    if (_key_value(result) or "").lower() not in PLACEHOLDERS or \
            any(part in result for part in fragments):
        raise WorkerConfError(NodeProblem(
            f"The node wallet key was imported into the keyring, but it could not be removed "
            f"from {path} safely (it is written in a way this importer does not rewrite).",
            "Open the file and replace the node_wallet_key value (every line of it) with "
            "[PRIVATE] by hand: it is a secret and must not stay on disk."))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, path.stat().st_mode & 0o777)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(result)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return True
