"""Every key a rig file (TOML) may hold: its section, type, default and meaning.

One table: the loader checks files against it, the docs list it (a test keeps
docs/areas/headless.md and installers/systemd/rig.example.toml in step with it).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RigKey:
    section: str  # "" for the top level
    name: str
    kind: type  # int, float, bool, str or list (of strings)
    default: Any  # None: derived (the doc says how)
    doc: str

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name


def _k(section: str, name: str, kind: type, default: Any, doc: str) -> RigKey:
    return RigKey(section, name, kind, default, doc)


KEYS: tuple[RigKey, ...] = (
    _k("", "instance", int, 0, "upstream's instance number (0-999): stats port "
       "12000 + 10 x instance, its own folder and keyring; `--instance` overrides it"),
    _k("", "home", str, "", "this instance's folder; `{instance}` is replaced by the number; "
       "empty: the app's profile for instance 0, `instance-N` under it for others"),
    _k("network", "kind", str, "devnet", "devnet (in-process test network), testnet or "
       "mainnet"),
    _k("network", "root_config_file", str, "", "a root-config JSON in upstream's fake-TON "
       "format (test networks, private deployments)"),
    _k("network", "root_contract_address", str, "", "the root contract (upstream's "
       "worker.conf names it): contract addresses derive from it; without root_config_file "
       "the root config is read from it on chain"),
    _k("network", "ton_config", str, "", "liteserver config file; empty: the network's "
       "global config from ton.org"),
    _k("network", "proxies", list, [], "explicit proxies as \"host:port\"; empty: those the "
       "root config lists"),
    _k("network", "attestation", str, "auto", "auto (tdx on mainnet, fake_tdx on test "
       "networks), tdx, fake_tdx or none"),
    _k("network", "collateral_url", str, "https://api.trustedservices.intel.com", "where "
       "Intel DCAP collateral for checking proxies' TDX quotes comes from: a PCCS, or Intel's "
       "PCS (the default); fetched in the background and cached until it expires"),
    _k("network", "accepted_tcb_statuses", list, ["UpToDate"], "the TDX TCB statuses a "
       "proxy's platform may have (upstream accepts only UpToDate; others: SWHardeningNeeded, "
       "ConfigurationNeeded, OutOfDate, ...)"),
    _k("worker", "owner_address", str, "", "the TON address payouts go to; empty: the one "
       "linked with `cocoon-desktop wallet link-owner`"),
    _k("worker", "coefficient", int, 1000, "price coefficient, 1000 = 1.0x the base price"),
    _k("worker", "max_active_requests", int, 4, "network jobs served at once (1-256)"),
    _k("model", "path", str, "", "a GGUF model file; empty: the bundled SmolLM2-135M"),
    _k("model", "name", str, "", "the Cocoon model name to announce (name@commit:hash); "
       "empty: derived from the file; set only with `model.path`"),
    _k("model", "context_tokens", int, 4096, "context per request, in tokens"),
    _k("model", "gpu_layers", int, -1, "layers on the GPU; -1: as many as fit"),
    _k("model", "threads", int, 0, "CPU threads of the engine; 0: one per physical core"),
    _k("model", "speculative", bool, True, "speculative decoding: the engine drafts tokens "
       "from the prompt and the answer so far (or with `draft_path`) and verifies them in one "
       "step; the text is the same, answers that repeat their prompt come faster"),
    _k("model", "draft_path", str, "", "a small GGUF model with the same vocabulary (same "
       "family) that drafts for `model.path`; empty: drafts come from the prompt"),
    _k("engine", "upstream_gateway_port", int, 0, "a loopback-only gateway on 127.0.0.1 at "
       "this port that forwards requests WITHOUT a token to the engine, for upstream's worker "
       "runner (its forward_requests_to; upstream's default is 8000); anything on this machine "
       "can then use the engine; 0: off"),
    _k("engine", "serve_from", str, "sandbox", "where the engine and the worker run: "
       "sandbox (a process on this machine, in bubblewrap) or vm (a VM booted from the measured "
       "image, docs/areas/vm.md: the proxies' TLS ends inside it, so network jobs' prompts are "
       "decrypted only there; only tdx also keeps the VM's memory from the host)"),
    _k("vm", "mode", str, "auto", "how the VM runs: auto (the best this host has: tdx, then "
       "kvm, then tcg), tdx (attested; mainnet needs it), kvm (isolation without attestation, "
       "test networks only) or tcg (emulated, slow: tests and demos)"),
    _k("vm", "memory_mib", int, 2048, "the VM's memory in MiB (512-262144): the model and "
       "its KV cache must fit"),
    _k("vm", "cpus", int, 2, "the VM's virtual CPUs (1-256)"),
    _k("vm", "gpu_passthrough", bool, False, "true: this node's GPU may be moved to vfio-pci "
       "for the VM and back after (as root: pkexec, or a polkit rule for the service's user); "
       "false: a node with a GPU refuses to serve from the VM"),
    _k("gpu", "device", str, "", "PCI bus id (0000:01:00.0), number, UUID (GPU-...) or "
       "`all`; empty: the only GPU, or GPU number `instance` when there are several"),
    _k("gpu", "pause_temperature_c", int, 83, "pause new jobs at this temperature"),
    _k("gpu", "resume_temperature_c", int, 75, "resume at this temperature or below"),
    _k("gpu", "pause_on_throttle", bool, True, "pause while the GPU slows itself down"),
    _k("gpu", "vram_headroom_mib", int, 512, "GPU memory to keep free for other programs"),
    _k("gpu", "game_mode", bool, True, "unload the model while other programs use the GPU"),
    _k("gpu", "game_mode_processes", list, [], "programs that start game mode (e.g. "
       "\"steam\")"),
    _k("gpu", "monitoring_interval_s", float, 1.0, "seconds between GPU readings (0.2-60)"),
    _k("earnings", "tariff_per_kwh", float, 0.0, "electricity price per kWh; 0: not counted"),
    _k("earnings", "tariff_currency", str, "USD", "the tariff's currency (three letters)"),
    _k("earnings", "ton_price", float, 0.0, "one TON in that currency, for net figures; "
       "0: not set"),
    _k("earnings", "payout_check_interval_s", float, 300.0, "how often payouts are "
       "considered (30-86400)"),
    _k("earnings", "chain_sync_interval_s", float, 600.0, "how often payouts are checked on "
       "chain (60-86400)"),
    _k("stats", "port", int, None, "stats and /metrics port; default 12000 + 10 x instance; "
       "0: any free port"),
    _k("stats", "listen", str, "127.0.0.1", "address to listen on; another one (e.g. "
       "0.0.0.0) only for a Prometheus server elsewhere, and only with `tls_certificate` "
       "or `accept_plain_http_risk`; the token is still required"),
    _k("stats", "tls_certificate", str, "", "a PEM certificate (chain) to serve the stats "
       "over HTTPS; with `tls_key`"),
    _k("stats", "tls_key", str, "", "the PEM private key of `tls_certificate`"),
    _k("stats", "accept_plain_http_risk", bool, False, "true: serve a non-loopback `listen` "
       "address over plain HTTP anyway (anyone on the path can read the token)"),
    _k("stats", "token_file", str, "", "a file holding the stats token (e.g. a systemd "
       "credential, shared with Prometheus); empty: a fresh token each run, in the run file"),
    _k("shutdown", "drain_timeout_s", float, 30.0, "on stop, how long running jobs may "
       "finish (0-3600)"),
)

SECTIONS = tuple(dict.fromkeys(k.section for k in KEYS if k.section))
BY_DOTTED = {k.dotted: k for k in KEYS}


def example_rig_text() -> str:
    """A rig file listing every key with its default and meaning (`serve --example-config`)."""
    out = ["# Cocoon Desktop rig file: `cocoon-desktop serve --config rig.toml` (TOML).",
           "# Every key is optional; shown here with its default. No secret ever goes here: the",
           "# node wallet key lives in the OS keyring (`cocoon-desktop serve --import-worker-conf",
           "# worker.conf` moves it there). Relative paths are relative to this file's folder."]
    section = None
    for key in KEYS:
        if key.section != section:
            section = key.section
            out += ["", f"[{section}]"] if section else [""]
        out += [f"# {line}" for line in textwrap.wrap(key.doc, 94)]
        out.append(f"#{key.name} = 12000" if key.default is None
                   else f"{key.name} = {_toml_value(key.default)}")
    return "\n".join(out) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value)
    return repr(value)
