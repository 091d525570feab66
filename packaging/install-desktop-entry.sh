#!/usr/bin/env sh
# Add transfer_gui to the Linux desktop menu of the current user (freedesktop.org standards):
# the .desktop entry, the scalable icon and the project file type (*.tgproj opens in the app)
# go under ~/.local/share.
#   install-desktop-entry.sh               the entry starts the pip-installed `transfer-gui` by its
#                                          absolute path: the checkout's .venv/bin/transfer-gui
#                                          (the README's install), else the one on PATH
#   install-desktop-entry.sh --python PY   the `transfer-gui` installed beside the Python PY
#                                          (e.g. --python .venv/bin/python)
#   install-desktop-entry.sh --exec FILE   this `transfer-gui` executable
#   install-desktop-entry.sh --bundle DIR  copies the stand-alone bundle DIR (dist/transfer-gui)
#                                          to ~/.local/share/transfer-gui and the entry starts it
#   install-desktop-entry.sh --remove      takes all of it out again
# A desktop menu does not see the PATH of a shell (nor an activated venv), so the entry always
# names the program by its absolute path.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor/scalable"
mime="$data/mime"
app="$data/transfer-gui"
mime_icon="$icons/mimetypes/application-x-transfer-gui-project.svg"

absolute() {  # the absolute path of an existing executable file, or nothing
    if [ -f "$1" ] && [ -x "$1" ]; then
        echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
    fi
}

installed() {  # the transfer-gui to start: the checkout's venv first, then PATH
    found=$(absolute "$here/.venv/bin/transfer-gui")
    if [ -z "$found" ] && command -v transfer-gui >/dev/null 2>&1; then
        found=$(absolute "$(command -v transfer-gui)")
    fi
    echo "$found"
}

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
    program="$app/transfer-gui"
    ;;
--python)
    python="${2:?--python needs a Python, e.g. .venv/bin/python}"
    program=$(absolute "$(dirname "$python")/transfer-gui")
    if [ -z "$program" ]; then
        echo "no transfer-gui beside $python: install it there first (pip install -e .)" >&2
        exit 1
    fi
    ;;
--exec)
    program=$(absolute "${2:?--exec needs the transfer-gui executable}")
    if [ -z "$program" ]; then
        echo "$2 is not an executable file" >&2
        exit 1
    fi
    ;;
"")
    program=$(installed)
    if [ -z "$program" ]; then
        echo "transfer-gui not found in $here/.venv/bin nor on PATH: install it first (the" \
            "README's first command), or name it with --python PY or --exec FILE" >&2
        exit 1
    fi
    ;;
*)
    echo "usage: $0 [--python PY | --exec FILE | --bundle DIR | --remove]" >&2
    exit 2
    ;;
esac
exec_line="Exec=\"$program\" %f"

mkdir -p "$apps" "$icons/apps" "$icons/mimetypes" "$mime/packages"
sed "s|^Exec=.*|$exec_line|" "$here/resources/transfer-gui.desktop" > "$apps/transfer-gui.desktop"
cp "$here/resources/icons/app.svg" "$icons/apps/transfer-gui.svg"
cp "$here/resources/icons/app.svg" "$mime_icon"
cp "$here/resources/transfer-gui-project.xml" "$mime/packages/transfer-gui-project.xml"
refresh
echo "installed $apps/transfer-gui.desktop (starts $program)," \
    "its icon and the *.tgproj file type"
