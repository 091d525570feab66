#!/usr/bin/env sh
# Build the stand-alone application: dist/transfer-gui/transfer-gui (one folder, PyInstaller).
# It bundles the Python environment it runs in: $PYTHON (default: python3) must have
# transfer_gui's dependencies and PyInstaller installed, e.g.
#   python3 -m pip install -e . pyinstaller pyinstaller-hooks-contrib
# The bundle carries that environment's PyTorch build (CUDA or CPU-only) as it is.
# Usage: packaging/build-bundle.sh [DIST_DIR]   (default: dist)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
py="${PYTHON:-python3}"
dist="${1:-$here/dist}"
if ! "$py" -c "import PyInstaller" 2>/dev/null; then
    echo "$py has no PyInstaller: $py -m pip install pyinstaller pyinstaller-hooks-contrib" >&2
    exit 1
fi
cd "$here"
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" "$py" -m PyInstaller --noconfirm --clean \
    --distpath "$dist" --workpath "$here/build/pyinstaller" packaging/transfer-gui.spec
echo "built $dist/transfer-gui/transfer-gui"
