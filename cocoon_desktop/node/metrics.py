"""The node's figures for Prometheus and as JSON, next to the worker's own.

`/metrics` answers the worker's counters (network area) followed by these node gauges, so one
scrape per instance shows a farm's state, GPUs, protection, earnings and, when it serves from
the confidential VM, the VM's state and mode. The label is `node_instance`, not `instance`,
which Prometheus sets itself to the scraped address. `/jsonstats` gets the VM as a `vm` key
(`vm_json`) beside upstream's own.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

from cocoon_desktop import __version__
from cocoon_desktop.earnings.labels import known_energy_j
from cocoon_desktop.node.status import NodeState, NodeStatus, VmView

VM_STATES = ("preparing", "starting", "booting", "loading", "ready", "stopping", "stopped",
             "failed")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Text:
    def __init__(self, instance: int) -> None:
        self.lines: list[str] = []
        self.instance = f'node_instance="{instance}"'

    def metric(self, name: str, kind: str, help_text: str,
               samples: list[tuple[dict[str, str], float | None]]) -> None:
        shown = [(labels, value) for labels, value in samples if value is not None]
        if not shown:
            return
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, value in shown:
            extra = "".join(f',{k}="{_escape(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{self.instance}{extra}}} {value:g}")


def node_metrics(status: NodeStatus) -> str:
    """Prometheus text exposition of one node's status."""
    t = _Text(status.instance)
    t.metric("cocoon_node_info", "gauge", "The node's version and network.",
             [({"version": __version__, "network": status.network.value}, 1)])
    t.metric("cocoon_node_state", "gauge", "1 for the node's current state.",
             [({"state": s.value}, float(status.state is s)) for s in NodeState])
    t.metric("cocoon_node_accepting_jobs", "gauge", "1 when taking new network jobs.",
             [({}, float(status.accepting))])
    t.metric("cocoon_node_needs_user", "gauge", "1 when the node stopped and needs the user.",
             [({}, float(status.needs_user))])
    t.metric("cocoon_node_paused_reasons", "gauge", "Reasons serving is paused now.",
             [({}, len(status.paused_reasons))])
    t.metric("cocoon_node_problems", "gauge", "Problems that do not stop serving.",
             [({}, len(status.problems))])
    t.metric("cocoon_node_engine_ready", "gauge", "1 when the inference engine is ready.",
             [({}, float(status.engine_state.value == "ready"))])
    t.metric("cocoon_node_engine_load_ratio", "gauge", "Share of the model's weights loaded, "
             "while the engine loads it (absent otherwise).", [({}, status.engine_load_fraction)])
    _engine_metrics(t, status)
    _gpu_metrics(t, status)
    _earnings_metrics(t, status)
    if status.vm is not None:
        _vm_metrics(t, status.vm)
    return "\n".join(t.lines) + "\n"


def _engine_metrics(t: _Text, status: NodeStatus) -> None:
    """Speculative decoding and prompt reuse, as the engine counts them (absent before the
    engine's first status answer)."""
    stats = status.engine.stats
    if stats is None:
        return
    t.metric("cocoon_node_engine_speculation_info", "gauge", "How the engine drafts tokens.",
             [({"speculation": stats.speculation}, 1)])
    t.metric("cocoon_node_engine_draft_tokens_total", "counter",
             "Tokens drafted and verified by speculative decoding.",
             [({}, stats.draft_tokens_total)])
    t.metric("cocoon_node_engine_draft_tokens_accepted_total", "counter",
             "Drafted tokens the model confirmed (each one a decode step saved).",
             [({}, stats.draft_tokens_accepted_total)])
    t.metric("cocoon_node_engine_draft_acceptance_ratio", "gauge",
             "Share of drafted tokens confirmed, since the engine started (absent before the "
             "first draft).", [({}, stats.draft_acceptance)])
    t.metric("cocoon_node_engine_cached_prompt_tokens_total", "counter",
             "Prompt tokens whose KV was reused instead of decoded.",
             [({}, stats.cached_tokens_total)])
    t.metric("cocoon_node_engine_shared_prefix_tokens_total", "counter",
             "Of those, tokens copied from another job's KV (shared prefixes).",
             [({}, stats.shared_prefix_tokens_total)])
    t.metric("cocoon_node_engine_sequences_moved_total", "counter",
             "Generating sequences moved into a free slot so that the busy ones stay consecutive "
             "(llama.cpp decodes only consecutive sequences in one pass).",
             [({}, stats.sequences_moved_total)])
    t.metric("cocoon_node_engine_step_seconds_total", "counter",
             "Seconds the engine's decode thread spent in steps: drafting, llama.cpp's decode, "
             "sampling and sending text (its rate is how busy the engine is).",
             [({}, stats.step_seconds_total)])
    t.metric("cocoon_node_engine_decode_seconds_total", "counter",
             "Of those, seconds inside llama.cpp's decode (the model's compute); the rest is the "
             "engine's own work.", [({}, stats.decode_seconds_total)])


def _gpu_metrics(t: _Text, status: NodeStatus) -> None:
    def per_gpu(field: str, scale: float = 1.0) -> list[tuple[dict[str, str], float | None]]:
        out: list[tuple[dict[str, str], float | None]] = []
        for gpu in status.gpus:
            value = getattr(gpu, field)
            out.append(({"gpu": str(gpu.index), "uuid": gpu.uuid},
                        None if value is None else float(value) * scale))
        return out

    t.metric("cocoon_node_gpu_temperature_celsius", "gauge", "GPU temperature.",
             per_gpu("temperature_c"))
    t.metric("cocoon_node_gpu_power_watts", "gauge", "GPU power draw.", per_gpu("power_w"))
    t.metric("cocoon_node_gpu_utilization_ratio", "gauge", "GPU busy share (0..1).",
             per_gpu("utilization_gpu_percent", 0.01))
    t.metric("cocoon_node_gpu_memory_used_bytes", "gauge", "GPU memory in use.",
             per_gpu("memory_used_bytes"))
    t.metric("cocoon_node_gpu_memory_total_bytes", "gauge", "GPU memory in all.",
             per_gpu("memory_total_bytes"))
    t.metric("cocoon_node_gpu_energy_joules_total", "counter",
             "The driver's energy counter since it loaded.", per_gpu("energy_total_j"))


def _earnings_metrics(t: _Text, status: NodeStatus) -> None:
    """The figures of one network's ledger, labelled with that network (devnet and testnet
    amounts are test tokens: a dashboard must never add them to mainnet's)."""
    summary = status.earnings
    if summary is None:
        return
    net = {"network": (status.earnings_network or status.network).value}
    t.metric("cocoon_node_earned_nanoton", "gauge", "Earned per the network's ledger, by period.",
             [({"period": "today", **net}, summary.today.earned_nanoton),
              ({"period": "7d", **net}, summary.last_7_days.earned_nanoton),
              ({"period": "30d", **net}, summary.last_30_days.earned_nanoton),
              ({"period": "all", **net}, summary.all_time.earned_nanoton)])
    t.metric("cocoon_node_payout_nanoton", "gauge", "Money by payout state.",
             [({"state": "paid", **net}, summary.paid_nanoton),
              ({"state": "in_flight", **net}, summary.in_flight_nanoton),
              ({"state": "pending", **net}, summary.pending_nanoton)])
    t.metric("cocoon_node_requests_last_hour", "gauge", "Requests served in the last hour.",
             [(net, summary.requests_last_hour)])
    t.metric("cocoon_node_served_energy_joules", "gauge",
             "GPU energy of served requests, all time (absent while not measured).",
             [(net, known_energy_j(summary.all_time))])


def _vm_metrics(t: _Text, vm: VmView) -> None:
    t.metric("cocoon_node_vm_info", "gauge", "The confidential VM the node serves from: its "
             "mode (tdx: attested; kvm: test networks only; tcg: emulated) and image hash.",
             [({"mode": vm.mode or "none", "image_hash": vm.image_sha256}, 1)])
    t.metric("cocoon_node_vm_state", "gauge", "1 for the VM's current state.",
             [({"state": s}, float(vm.state == s)) for s in VM_STATES])
    t.metric("cocoon_node_vm_attested", "gauge", "1 when the VM's quotes come from TDX "
             "hardware.", [({}, float(vm.mode == "tdx"))])
    t.metric("cocoon_node_vm_start_ratio", "gauge", "Share of the VM's start done, while it "
             "starts (absent otherwise).", [({}, vm.progress_fraction)])
    t.metric("cocoon_node_vm_boot_seconds", "gauge", "From QEMU's start to the guest engine "
             "ready.", [({}, vm.boot_s)])


def vm_json(status: NodeStatus) -> dict[str, Any]:
    """`/jsonstats`' `vm` key: the VM the node serves from (nothing when it serves here)."""
    return {} if status.vm is None else {"vm": _plain(dataclasses.asdict(status.vm))}


def status_json(status: NodeStatus) -> dict[str, Any]:
    """The status as JSON values. The engine is summed up in four plain fields and its own
    figures (`engine_stats`): its status also holds its endpoint, whose token must never leave
    the app."""
    fields = {f.name: getattr(status, f.name) for f in dataclasses.fields(status)
              if f.name != "engine"}
    engine = {"engine_state": status.engine_state, "engine_detail": status.engine_detail,
              "engine_warnings": status.engine_warnings,
              "engine_load_fraction": status.engine_load_fraction,
              "engine_stats": status.engine.stats}
    return _plain({name: _plain_dataclass(value) for name, value in {**fields, **engine}.items()})


def _plain_dataclass(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return [_plain_dataclass(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # datetimes, decimals, paths
