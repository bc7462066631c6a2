#!/usr/bin/env bash
# Runs inside `dbus-run-session` (see scripts/test.sh): unlocks a fresh gnome-keyring, starts a
# virtual screen, runs pytest (ruff runs as a test).
set -euo pipefail
export HOME=$COCOON_TEST_HOME XDG_DATA_HOME=$COCOON_TEST_HOME/.local/share \
  XDG_CONFIG_HOME=$COCOON_TEST_HOME/.config XDG_CACHE_HOME=$COCOON_TEST_HOME/.cache \
  XDG_STATE_HOME=$COCOON_TEST_HOME/.local/state
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME"
# The keyring password only protects this throwaway test keyring.
export COCOON_TEST_KEYRING_PASSWORD=cocoon-test
eval "$(printf '%s' "$COCOON_TEST_KEYRING_PASSWORD" | \
  gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
display_file=$COCOON_TEST_HOME/.display
Xvfb -displayfd 3 -screen 0 1600x1000x24 -nolisten tcp 3>"$display_file" >/dev/null 2>&1 &
xvfb_pid=$!
trap 'kill $xvfb_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$display_file" ] && break; sleep 0.1; done
export DISPLAY=:$(cat "$display_file")
venv=$COCOON_VENV
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
