#!/usr/bin/env sh
# Add transfer_gui to the Linux desktop menu of the current user (freedesktop.org standards):
# the .desktop entry, the scalable icon and the project file type (*.tgproj opens in the app)
# go under ~/.local/share.
#   install-desktop-entry.sh               the entry starts `transfer-gui` from PATH (pip install)
#   install-desktop-entry.sh --bundle DIR  copies the stand-alone bundle DIR (dist/transfer-gui)
#                                          to ~/.local/share/transfer-gui and the entry starts it
#   install-desktop-entry.sh --remove      takes all of it out again
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor/scalable"
mime="$data/mime"
app="$data/transfer-gui"
mime_icon="$icons/mimetypes/application-x-transfer-gui-project.svg"

refresh() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database "$apps" >/dev/null 2>&1 || true
    fi
    if command -v update-mime-database >/dev/null 2>&1; then
        update-mime-database "$mime" >/dev/null 2>&1 || true
    fi
}

case "${1:-}" in
--remove)
    rm -f "$apps/transfer-gui.desktop" "$icons/apps/transfer-gui.svg" "$mime_icon" \
        "$mime/packages/transfer-gui-project.xml"
    if [ -x "$app/transfer-gui" ]; then
        rm -rf "$app"
    fi
    refresh
    echo "removed transfer_gui from the desktop menu"
    exit 0
    ;;
--bundle)
    bundle="${2:?--bundle needs the bundle folder, e.g. dist/transfer-gui}"
    if [ ! -x "$bundle/transfer-gui" ]; then
        echo "$bundle/transfer-gui not found: build it with packaging/build-bundle.sh" >&2
        exit 1
    fi
    bundle=$(cd "$bundle" && pwd)
    if [ "$bundle" != "$app" ]; then
        rm -rf "$app"
        mkdir -p "$(dirname "$app")"
        cp -a "$bundle" "$app"
    fi
    exec_line="Exec=\"$app/transfer-gui\" %f"
    ;;
"")
    exec_line=""
    ;;
*)
    echo "usage: $0 [--bundle DIR | --remove]" >&2
    exit 2
    ;;
esac

mkdir -p "$apps" "$icons/apps" "$icons/mimetypes" "$mime/packages"
if [ -n "$exec_line" ]; then
    sed "s|^Exec=.*|$exec_line|" "$here/resources/transfer-gui.desktop" > "$apps/transfer-gui.desktop"
else
    cp "$here/resources/transfer-gui.desktop" "$apps/transfer-gui.desktop"
fi
cp "$here/resources/icons/app.svg" "$icons/apps/transfer-gui.svg"
cp "$here/resources/icons/app.svg" "$mime_icon"
cp "$here/resources/transfer-gui-project.xml" "$mime/packages/transfer-gui-project.xml"
refresh
echo "installed $apps/transfer-gui.desktop (starts ${exec_line:+$app/}transfer-gui)," \
    "its icon and the *.tgproj file type"
