#!/usr/bin/env bash
# Builds the confidential VM's guest image from pinned Debian packages and this checkout (or
# reuses the cached one when its inputs are unchanged) and prints the image hash.
#   scripts/build-vm-image.sh            build or reuse; --offline: only the package cache
#   scripts/build-vm-image.sh --fetch    download the pinned Debian packages (needs network)
#   scripts/build-vm-image.sh --lock     re-pin vm/debian.lock and vm/python.lock (Debian 12)
#   scripts/build-vm-image.sh --out DIR  build into DIR, no cache (reproducibility checks)
# The cache is $COCOON_VM_CACHE, else ~/.cache/cocoon-desktop/vm. See docs/areas/vm.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${COCOON_VENV:-$root/.venv}
[ -x "$venv/bin/python" ] || "$root/scripts/bootstrap.sh" test >&2
# This checkout's code, even when the environment's editable install points at another one.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$venv/bin/python" -m cocoon_desktop.vm.build "$@"
