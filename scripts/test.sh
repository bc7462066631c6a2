#!/usr/bin/env bash
# Installs the app and the test needs (idempotent), then runs the whole test suite with the real
# parts: a private D-Bus session with an unlocked gnome-keyring, a virtual X screen, llama.cpp.
# Extra arguments go to pytest, e.g. `scripts/test.sh tests/unit -x`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The VM's images and packages stay in the user's cache between runs (rebuilt only when the
# image's inputs change), outside the throwaway home below.
export COCOON_VM_CACHE=${COCOON_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cocoon-desktop/vm}
"$root/scripts/bootstrap.sh" test
export COCOON_VENV=${COCOON_VENV:-$root/.venv}
# The whole suite includes building the release bundle and running it (about 2 minutes);
# COCOON_TEST_BUNDLE=0 skips that while iterating.
export COCOON_TEST_BUNDLE=${COCOON_TEST_BUNDLE:-1}
# A throwaway home so the tests' keyring and app data never touch the user's own.
test_home=$(mktemp -d "${TMPDIR:-/tmp}/cocoon-test-home.XXXXXX")
trap 'rm -rf "$test_home"' EXIT
export COCOON_TEST_HOME=$test_home
cd "$root"
exec dbus-run-session -- "$root/scripts/_test-session.sh" "$@"
