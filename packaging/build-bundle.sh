#!/usr/bin/env sh
# Build the stand-alone application: dist/transfer-gui/transfer-gui (one folder, PyInstaller).
# It bundles the Python environment it runs in: $PYTHON (default: python3) must have
# transfer_gui and its dependencies installed (the README's install command); PyInstaller is
# installed into it when missing (pip install "transfer-gui[packaging]" does the same).
# The bundle carries that environment's PyTorch build (CUDA or CPU-only) as it is.
# Usage: packaging/build-bundle.sh [DIST_DIR]   (default: dist)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
py="${PYTHON:-python3}"
dist="${1:-$here/dist}"
if ! "$py" -c "import PyInstaller" 2>/dev/null; then
    echo "installing PyInstaller into $py's environment (the packaging extra)"
    "$py" -m pip install -q "pyinstaller>=6.10" pyinstaller-hooks-contrib
fi
cd "$here"
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" "$py" -m PyInstaller --noconfirm --clean \
    --distpath "$dist" --workpath "$here/build/pyinstaller" packaging/transfer-gui.spec
echo "built $dist/transfer-gui/transfer-gui"
