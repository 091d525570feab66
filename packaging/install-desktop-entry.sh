#!/usr/bin/env sh
# Add transfer_gui to the Linux desktop menu of the current user (freedesktop.org standards):
# the .desktop entry and the scalable icon go under ~/.local/share. Run it after installing the
# package, so that `transfer-gui` is on PATH. Remove with: install-desktop-entry.sh --remove
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor/scalable/apps"

if [ "${1:-}" = "--remove" ]; then
    rm -f "$apps/transfer-gui.desktop" "$icons/transfer-gui.svg"
    echo "removed transfer_gui from the desktop menu"
    exit 0
fi
mkdir -p "$apps" "$icons"
cp "$here/resources/transfer-gui.desktop" "$apps/transfer-gui.desktop"
cp "$here/resources/icons/app.svg" "$icons/transfer-gui.svg"
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$apps" >/dev/null 2>&1 || true
fi
echo "installed $apps/transfer-gui.desktop and $icons/transfer-gui.svg"
