#!/usr/bin/env bash
# Adds Cocoon Desktop (this unpacked folder) to your application menu, for you only; no root.
#   ./install-user.sh              menu entry + icons in ~/.local/share, pointing at this folder
#   ./install-user.sh --uninstall  removes them again (the folder itself stays where it is)
# Moved the folder? Run it again. The .deb package does the same system-wide.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
entry=$data/applications/org.cocoon.desktop.desktop
icon_dirs=$(cd "$here/share/icons" && find . -name 'cocoon-desktop.*' | sed 's|^\./||')

refresh() {
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" 2>/dev/null || true
}

if [ "${1:-}" = --uninstall ]; then
  rm -f "$entry"
  for icon in $icon_dirs; do rm -f "$data/icons/$icon"; done
  refresh
  echo "Removed Cocoon Desktop from your menu."
  exit 0
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--uninstall]" >&2; exit 2
fi

[ -x "$here/cocoon-desktop" ] || { echo "cocoon-desktop is missing next to $0: unpack the whole archive again." >&2; exit 1; }
case $here in *[[:space:]\"\'\\\$\`]*)
  echo "The folder path $here contains spaces or quotes, which menu entries cannot hold safely: move the folder (e.g. to ~/Apps/cocoon-desktop) and run this again." >&2
  exit 1 ;;
esac
mkdir -p "$data/applications"
for icon in $icon_dirs; do
  mkdir -p "$(dirname "$data/icons/$icon")"
  cp "$here/share/icons/$icon" "$data/icons/$icon"
done
sed -e "s|^Exec=cocoon-desktop|Exec=$here/cocoon-desktop|" \
    -e "s|^TryExec=cocoon-desktop|TryExec=$here/cocoon-desktop|" \
    "$here/share/applications/org.cocoon.desktop.desktop" > "$entry.part"
mv "$entry.part" "$entry"
refresh
echo "Cocoon Desktop is in your application menu ($entry)."
