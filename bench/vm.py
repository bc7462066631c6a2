"""What the VM costs: its boot time, and the guest engine's decode tokens/s over the host
sandbox engine's, on the same model and settings.

    .venv/bin/python bench/vm.py [--tokens 24] [--rounds 2] [--mode tcg]

The host engine is the app's `EngineSupervisor` (bubblewrap sandbox); the guest engine is the
same engine inside the VM, reached through the forwarded port. Each round streams the same
greedy request to both, in ABBA order (host, guest, guest, host); decode speed is completion
tokens over the time from the first to the last token (prompt processing left out), and the
ratio is the median over the paired rounds. Under TCG (no usable KVM, as on this project's
CI machines) every guest instruction is emulated, so the ratio is a floor, not the cost of
the VM; run it with --mode kvm on hardware with KVM for the real figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cocoon_desktop.engine.host.supervisor import EngineSupervisor
from cocoon_desktop.engine.models.bundled import bundled_model_path
from cocoon_desktop.engine.types import EngineEndpoint, EngineSettings
from cocoon_desktop.vm.build import ensure_image
from cocoon_desktop.vm.guest_config import EngineSection, GuestConfig
from cocoon_desktop.vm.machine import VirtualMachine
from cocoon_desktop.vm.model_disk import ensure_model_disk
from cocoon_desktop.vm.modes import VmMode

MODEL_NAME = "smollm2-135m@bench:vm"
PROMPT = "Write a short story about a lighthouse keeper."


async def decode_rate(endpoint: EngineEndpoint, tokens: int) -> float:
    """Completion tokens per second between the first and the last streamed token."""
    body = {"model": "smollm2-135m", "messages": [{"role": "user", "content": PROMPT}],
            "stream": True, "max_tokens": tokens, "temperature": 0,
            "stream_options": {"include_usage": True}}
    first = last = 0.0
    completion = 0
    async with aiohttp.ClientSession() as session, session.post(
            f"{endpoint.base_url}/v1/chat/completions", json=body,
            headers=endpoint.auth_header) as resp:
        resp.raise_for_status()
        async for line in resp.content:
            if not line.startswith(b"data: {"):
                continue
            chunk = json.loads(line[6:])
            if any(c.get("delta", {}).get("content") for c in chunk["choices"]):
                last = time.perf_counter()
                first = first or last
            if chunk.get("usage"):
                completion = chunk["usage"]["completion_tokens"]
    return (completion - 1) / (last - first) if last > first else 0.0


async def run(args: argparse.Namespace) -> None:
    model = bundled_model_path()
    engine = EngineSection(context_tokens=1024, parallel_sequences=1, threads=2)
    image = ensure_image(offline=True)
    disk, info = ensure_model_disk(model)
    config = GuestConfig(mode=args.mode, network="none", model_name=MODEL_NAME, model=info,
                         engine=engine)
    host = EngineSupervisor(EngineSettings(model, MODEL_NAME, context_tokens=1024,
                                           parallel_sequences=1, threads=2))
    with tempfile.TemporaryDirectory(prefix="cocoon-bench-vm-") as work:
        vm = VirtualMachine(image, VmMode(args.mode), config, disk, Path(work))
        await vm.start()
        await host.start()
        try:
            guest_endpoint = await vm.wait_ready(1800)
            host_endpoint = await host.wait_ready(300)
            print(f"boot ({args.mode}): {vm.status.boot_s:.1f} s from QEMU's start to the "
                  "guest engine ready")
            ratios, host_rates, guest_rates = [], [], []
            for round_number in range(args.rounds):
                a1 = await decode_rate(host_endpoint, args.tokens)
                b1 = await decode_rate(guest_endpoint, args.tokens)
                b2 = await decode_rate(guest_endpoint, args.tokens)
                a2 = await decode_rate(host_endpoint, args.tokens)
                host_rates += [a1, a2]
                guest_rates += [b1, b2]
                ratios.append((b1 + b2) / (a1 + a2))
                print(f"round {round_number + 1}: host {a1:.1f}/{a2:.1f} tok/s, guest "
                      f"{b1:.2f}/{b2:.2f} tok/s, ratio {ratios[-1]:.3f}")
            print(f"host sandbox: {statistics.median(host_rates):.1f} tok/s, guest "
                  f"({args.mode}): {statistics.median(guest_rates):.2f} tok/s, guest/host "
                  f"{statistics.median(ratios):.3f} (median of {len(ratios)} ABBA rounds"
                  + ("; TCG emulates every instruction: a floor" if args.mode == "tcg" else "")
                  + ")")
        finally:
            await host.stop(drain_timeout_s=0)
            await vm.stop(drain_timeout_s=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--mode", choices=[m.value for m in VmMode], default="tcg")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
