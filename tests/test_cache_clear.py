"""`transfer-gui cache --clear` empties the cache folder: the feature cache and the
decoded-image spill files both go."""

from __future__ import annotations

import json

from transfer_gui.cli import main
from transfer_gui.core.io import featurestore


def test_clear_deletes_the_features_and_the_spill_files(tmp_path, monkeypatch, capsys):
    root = tmp_path / "cache"
    monkeypatch.setenv(featurestore.ENV_DIR, str(root))
    shard = root / "features" / "tiny_cnn-0123" / "shard.npy"
    shard.parent.mkdir(parents=True)
    shard.write_bytes(b"f" * 3000)
    spill = root / "spill"
    spill.mkdir()
    (spill / "decoded-left-by-a-killed-run").write_bytes(b"d" * 5000)
    (spill / "nested").mkdir()
    (spill / "nested" / "decoded-2").write_bytes(b"d" * 700)

    assert main(["cache", "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert before["bytes"] == {"features": 3000, "spill": 5700} and before["freed"] == 0

    assert main(["cache", "--clear", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["freed"] == 8700
    assert not (root / "features").exists()
    assert spill.is_dir() and not any(spill.iterdir())  # a running run still finds its folder
    assert after["bytes"] == {"spill": 0}

    assert main(["cache", "--clear"]) == 0
    assert "cleared 0.0 MiB of cached features and decoded images" in capsys.readouterr().out
