"""Real-world folders: every unusable file is named with its reason, the rest is used."""

from __future__ import annotations

import builtins
import json
import os
import shutil
import sys

import numpy as np
import pytest
from PIL import Image, ImageFile

import badcorpus
from transfer_gui.cli import main
from transfer_gui.core.data import images
from transfer_gui.core.data.images import ImageError, decode, thumbnail
from transfer_gui.core.data.scan import scan_folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return badcorpus.build(tmp_path_factory.mktemp("corpus"))


@pytest.fixture()
def deny_read(monkeypatch, corpus):
    """`corpus.locked` behaves like a file without read permission (even for root)."""
    real_open = builtins.open
    locked = str(corpus.locked)

    def guarded(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    return corpus.locked


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_data_json_names_each_problem_and_its_reason(corpus, deny_read, capsys):
    code, out, _ = cli(capsys, "check-data", corpus.root, "--json")
    report = json.loads(out)
    assert code == 0
    counts = {c["name"]: c["count"] for c in report["classes"]}
    assert counts == {"cats": len(corpus.good["cats"]), "dogs": 11, "empty": 0, "single": 1}
    problems = {p["path"]: p for p in report["problems"]}
    for path, words in corpus.bad.items():
        assert str(path) in problems, f"{path.name} not reported"
        assert words in problems[str(path)]["reason"], problems[str(path)]
        assert problems[str(path)]["severity"] == "error"
    for path, words in corpus.warned.items():
        assert words in problems[str(path)]["reason"]
        assert problems[str(path)]["severity"] == "warning"
    mentioned = " ".join(problems)
    for path in corpus.ignored:
        assert path.name not in mentioned
    assert "__MACOSX" not in counts


def test_check_data_text_names_each_problem(corpus, deny_read, capsys):
    code, out, _ = cli(capsys, "check-data", corpus.root)
    assert code == 0
    lines = out.splitlines()
    for path, words in {**corpus.bad, **corpus.warned}.items():
        shown = path.as_posix().encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        assert any(f"{shown}:" in line and words in line for line in lines), path.name


def test_every_usable_file_decodes_to_rgb(corpus):
    for path in corpus.usable():
        image = decode(path)
        assert image.mode == "RGB" and min(image.size) >= 1, path.name
        small = thumbnail(path, 32)
        assert small.mode == "RGB" and max(small.size) <= 32, path.name


def test_every_unusable_file_raises_its_reason(corpus, deny_read):
    for path, words in corpus.bad.items():
        if path.is_dir() or not images.is_supported(path.name):
            continue
        with pytest.raises(ImageError) as info:
            thumbnail(path)
        assert words in info.value.reason, path.name


def test_exif_orientation_is_applied(corpus):
    for image in (decode(corpus.rotated), thumbnail(corpus.rotated, 64)):
        width, height = image.size
        assert width == 2 * height  # stored tall, shown wide
        pixels = np.asarray(image, dtype=int)
        red = pixels[..., 0] - pixels[..., 1]
        assert red[2, 2] > 100, "marker must be top-left"
        assert red[2, -3] < 50 and red[-3, 2] < 50 and red[-3, -3] < 50


def test_modes_convert_sensibly(corpus):
    cats = corpus.root / "cats"
    gray = np.asarray(decode(cats / "gray16.png"), dtype=int)[0, :, 0]
    assert gray[0] == 0 and gray[-1] == 255 and np.all(np.diff(gray) >= 0)  # scaled, not clipped
    alpha = np.asarray(decode(cats / "alpha.png"), dtype=int)
    assert alpha.min() > 40  # composed over white, never black
    assert decode(cats / "animated.gif").size == (badcorpus.SIZE, badcorpus.SIZE)
    assert decode(cats / "pages.tiff").size == (badcorpus.SIZE, badcorpus.SIZE)


def test_bomb_is_refused_before_decoding(corpus, monkeypatch):
    def never(self, *args, **kwargs):
        raise AssertionError("an oversized image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", never)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40 * 40)  # the corpus images are 48 x 48
    for name in ("plain.png", "photo.jpg", "huge.png"):
        with pytest.raises(ImageError, match="decompression bomb"):
            decode(corpus.root / "cats" / name)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_file_without_read_permission_for_real(tmp_path):
    path = tmp_path / "locked.png"
    Image.new("RGB", (20, 20)).save(path)
    path.chmod(0)
    try:
        with pytest.raises(ImageError, match="no permission"):
            decode(path)
    finally:
        path.chmod(0o644)


def test_train_and_predict_on_the_corpus(corpus, deny_read, tmp_path, capsys):
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", corpus.root, "--out", run, "--backbone", "tiny_cnn",
                         "--epochs", "2", "--batch-size", "8", "--json")
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["status"] == "completed"
    assert "left out: 'empty'" in err
    meta = json.loads((run / "run.json").read_text())
    assert meta["classes"] == ["cats", "dogs", "single"]
    split = json.loads((run / "split.json").read_text())
    used = {corpus.root / p for p, _ in split["train"] + split["val"]}
    assert used == set(corpus.usable())

    table = tmp_path / "predictions.csv"
    code, out, _ = cli(capsys, "predict", run, corpus.root, "--json", "--csv", table)
    assert code == 1  # some inputs were not images
    results = {p["path"]: p for p in json.loads(out)}
    for path in corpus.usable():
        assert results[str(path)]["top_k"] and "error" not in results[str(path)], path.name
    for path, words in corpus.bad.items():
        if not path.is_dir():
            assert words in results[str(path)]["error"], path.name
    for path in corpus.ignored:
        assert str(path) not in results
    rows = table.read_bytes().decode("utf-8", "surrogateescape").splitlines()
    assert len(rows) == 1 + len(results)
    if sys.platform.startswith("linux"):  # a name that is not UTF-8 went all the way through
        assert any(badcorpus.LATIN1_NAME in os.fsencode(p) for p in corpus.usable())
        code, out, _ = cli(capsys, "predict", run, corpus.root / "cats")
        assert "caf\\udce9 latin-1.png: " in out  # escaped, not a crash


def test_empty_folder_and_single_class_are_refused_clearly(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, _ = cli(capsys, "check-data", empty, "--json")
    assert code == 1 and "no class folders" in json.loads(out)["problems"][0]["reason"]
    code, _, err = cli(capsys, "train", empty, "--out", tmp_path / "r1", "--backbone", "tiny_cnn")
    assert code == 1 and "no class folders" in err
    one = badcorpus.one_class(tmp_path / "one")
    code, _, err = cli(capsys, "train", one, "--out", tmp_path / "r2", "--backbone", "tiny_cnn")
    assert code == 1 and "only one class" in err and "at least two" in err
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def test_scan_survives_a_folder_it_cannot_list(corpus, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(corpus.root / "dogs", data / "dogs")
    (data / "cats").mkdir()
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(data / "cats"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    scan = scan_folder(data)
    reasons = [p.reason for p in scan.problems if p.path == str(data / "cats")]
    assert "folder cannot be read: Permission denied" in reasons
    assert scan.counts() == [0, 11]
