"""The stand-alone application (packaging/build-bundle.sh) run as a user would: the bundle's own
executable, in an environment with no Python, no PYTHONPATH and no project venv on PATH.

Runs only when a bundle exists: the folder named by $TRANSFER_GUI_BUNDLE, else dist/transfer-gui
of this checkout; skipped otherwise (building one takes many minutes)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from imagegen import make_dataset

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = Path(os.environ.get("TRANSFER_GUI_BUNDLE") or ROOT / "dist" / "transfer-gui")
EXE = BUNDLE / "transfer-gui"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not EXE.is_file(), reason=f"no bundle at {BUNDLE} (set "
                       "TRANSFER_GUI_BUNDLE or run packaging/build-bundle.sh)"),
]


@pytest.fixture
def run_app(tmp_path):
    """Run the bundled executable with a bare environment: its own HOME, caches and torch hub
    folder (so no weights downloaded earlier are found), and only the system's PATH."""
    env = {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "QT_QPA_PLATFORM": "offscreen", "TORCH_HOME": str(tmp_path / "torch"),
           "TRANSFER_GUI_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "2"}

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess:
        out = subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=600,
                             env={**env, **extra}, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-3000:]
        return out

    return run


def test_help_and_backbones_print_to_the_console(run_app):
    assert "check-data" in run_app("--help").stdout
    rows = {r["name"]: r for r in json.loads(run_app("backbones", "--json").stdout)}
    assert rows["efficientnet_lite0"]["weights"] == "bundled"


def test_imagenet_prediction_with_the_bundled_weights(run_app, photo_dir):
    out = run_app("predict", "--backbone", "efficientnet_lite0", str(photo_dir / "coffee.jpg"),
                  "--json", "--top-k", "3")
    assert json.loads(out.stdout)[0]["top_k"][0]["label"] == "espresso"


def test_train_then_predict_and_export(run_app, tmp_path, photo_dir):
    data = make_dataset(tmp_path / "shapes", per_class=8, size=64)
    run_app("train", str(data), "--out", str(tmp_path / "run"), "--backbone",
            "efficientnet_lite0", "--image-size", "64", "--epochs", "1", "--workers", "1", "--json",
            "--tensorboard", str(tmp_path / "tb"))
    assert list((tmp_path / "tb" / "run").glob("events.out.tfevents.*"))
    out = run_app("export", str(tmp_path / "run"), "--out", str(tmp_path / "m.onnx"))
    assert "largest" in out.stdout and (tmp_path / "m.labels.json").is_file()
    out = run_app("predict", str(tmp_path / "run"), str(photo_dir / "chelsea.jpg"),
                  str(data / "circle"), "--json")
    predictions = json.loads(out.stdout)
    assert len(predictions) == 9
    assert all("error" not in p and p["top_k"][0]["label"] in {"circle", "square", "triangle"}
               for p in predictions)


def test_the_window_starts_and_closes(run_app):
    out = run_app(TRANSFER_GUI_QUIT_AFTER_SHOW="1")
    assert "Traceback" not in out.stderr
