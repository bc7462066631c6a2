#!/usr/bin/env bash
# Installs everything the app needs (idempotent, see scripts/bootstrap.sh) and starts it.
# Extra arguments go to the app, e.g. `scripts/run-app.sh serve --config rig.toml`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/bootstrap.sh" app
exec "${COCOON_VENV:-$root/.venv}/bin/cocoon-desktop" "$@"
