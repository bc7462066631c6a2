#!/usr/bin/env bash
# Builds the Linux release of Cocoon Desktop from this checkout:
#   <out>/cocoon-desktop-<version>-linux-x86_64.tar.gz   unpack anywhere, run ./cocoon-desktop
#   <out>/cocoon-desktop_<version>_amd64.deb             /opt/cocoon-desktop, menu entry, icons
# Usage: installers/build-linux.sh [--out DIR] [--skip-bootstrap] [--compress gzip|xz]
#   --out DIR          where the two files go (default: dist/)
#   --skip-bootstrap   skip scripts/bootstrap.sh (tests: scripts/test.sh ran it already)
#   --compress xz      a .deb 15% smaller (the model does not compress), but about 3 CPU-minutes
#                      instead of 12 s: use it for releases; gzip (default) for everything else
# Needs Debian or Ubuntu (dpkg-deb, desktop-file-validate); scripts/bootstrap.sh installs the
# rest. The bundle (build/ship/dist/cocoon-desktop) is built with the project's virtual
# environment (COCOON_VENV, default .venv), so it ships exactly the llama.cpp build found there:
# build on a machine with the CPU features (and CUDA) you mean to ship, and on the oldest
# distribution you want to support (the bundle needs its glibc or newer).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/dist
bootstrap=1
compress=gzip
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    --skip-bootstrap) bootstrap=0; shift ;;
    --compress) compress=$2; shift 2
      case $compress in gzip|xz) ;; *) echo "--compress takes gzip or xz" >&2; exit 2 ;; esac ;;
    *) echo "unknown option: $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
started=$(date +%s)
say() { printf '\033[1m[build %4ss]\033[0m %s\n' "$(( $(date +%s) - started ))" "$*"; }
venv=${COCOON_VENV:-$root/.venv}
py=$venv/bin/python
work=$root/build/ship

if [ "$bootstrap" = 1 ]; then
  "$root/scripts/bootstrap.sh" app
  command -v dpkg-deb >/dev/null && command -v desktop-file-validate >/dev/null || {
    say "installing dpkg-dev and desktop-file-utils"
    apt-get install -y -q dpkg-dev desktop-file-utils >/dev/null 2>&1 \
      || sudo apt-get install -y -q dpkg-dev desktop-file-utils >/dev/null
  }
fi
# The build extra (PyInstaller), into the same editable install the app already has.
"$py" -c 'import PyInstaller' 2>/dev/null || "$venv/bin/pip" install -q -e "$root[build]"
version=$("$py" -c 'import cocoon_desktop; print(cocoon_desktop.__version__)')
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
[ "$arch" = amd64 ] || { echo "only x86_64 (amd64) builds are set up, not $arch" >&2; exit 1; }

say "icons"
rm -rf "$work/icons"
QT_QPA_PLATFORM=offscreen "$py" "$root/installers/icons.py" "$work/icons"

say "PyInstaller bundle (a minute or two)"
COCOON_ICON_DIR=$work/icons "$py" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$work/dist" --workpath "$work/work" "$root/installers/cocoon-desktop.spec"
bundle=$work/dist/cocoon-desktop
"$bundle/cocoon-desktop" --version >/dev/null

say "tarball"
name=cocoon-desktop-$version
stage=$work/tarball/$name
rm -rf "$work/tarball" && mkdir -p "$stage/share/applications" "$stage/share/icons"
cp -a "$bundle/." "$stage/"
cp -a "$work/icons/hicolor" "$stage/share/icons/"
cp "$root/installers/linux/org.cocoon.desktop.desktop" "$stage/share/applications/"
install -m 755 "$root/installers/linux/install-user.sh" "$stage/install-user.sh"
mkdir -p "$out"
tarball=$out/$name-linux-x86_64.tar.gz
tar -C "$work/tarball" -cf - "$name" | gzip -6 > "$tarball.part" && mv "$tarball.part" "$tarball"

say ".deb"
deb_root=$work/deb/root
rm -rf "$work/deb" && mkdir -p "$deb_root/DEBIAN" "$deb_root/opt" "$deb_root/usr/bin" \
  "$deb_root/usr/share/applications" "$deb_root/usr/share/icons" \
  "$deb_root/usr/share/doc/cocoon-desktop"
cp -a "$bundle" "$deb_root/opt/cocoon-desktop"
ln -s /opt/cocoon-desktop/cocoon-desktop "$deb_root/usr/bin/cocoon-desktop"
ln -s /opt/cocoon-desktop/cocoon-desktop "$deb_root/usr/bin/cocoon-desktop-cli"
install -m 644 "$root/installers/linux/org.cocoon.desktop.desktop" "$deb_root/usr/share/applications/"
cp -a "$work/icons/hicolor" "$deb_root/usr/share/icons/"
install -m 644 "$root/installers/linux/copyright" "$deb_root/usr/share/doc/cocoon-desktop/copyright"
desktop-file-validate "$deb_root/usr/share/applications/org.cocoon.desktop.desktop"
depends=$("$py" "$root/installers/linux/debian_depends.py" "$bundle")
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" \
    -e "s/@INSTALLED_SIZE@/$(du -sk --exclude=DEBIAN "$deb_root" | cut -f1)/" \
    "$root/installers/linux/control.in" > "$deb_root/DEBIAN/control"
chmod -R u+rwX,go+rX,go-w "$deb_root"
deb=$out/cocoon-desktop_${version}_$arch.deb
dpkg-deb --root-owner-group "-Z$compress" -z6 --build "$deb_root" "$deb.part" >/dev/null && mv "$deb.part" "$deb"

say "done in $(( $(date +%s) - started )) s:"
ls -l "$tarball" "$deb" | awk '{printf "  %s (%d MB)\n", $NF, $5 / 1e6}'
