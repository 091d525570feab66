"""The zoo's list: the shipped cache matches the installed libraries, listing needs no torch,
search, the rebuild when the versions change, and the words for family and pretraining."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from transfer_gui.core.models.zoo import build, catalog
from transfer_gui.core.models.zoo.entry import family_of, pretraining_of

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "timm", "huggingface_hub", "PySide6")


def test_shipped_list_is_for_the_installed_libraries():
    timm = pytest.importorskip("timm")
    import torchvision.models as tvm

    read = catalog.read_catalog(catalog.SHIPPED)
    assert read is not None, "regenerate: python -m transfer_gui.core.models.zoo.build"
    versions, entries = read
    assert versions == catalog.installed_versions(), \
        "the shipped list is for other versions: python -m transfer_gui.core.models.zoo.build"
    by_source: dict[str, set[str]] = {}
    for entry in entries:
        by_source.setdefault(entry.source, set()).add(entry.model)
    assert by_source["timm"] == set(timm.list_pretrained())
    assert by_source["torchvision"] == set(tvm.list_models(module=tvm))
    assert by_source["bundled"] == {"efficientnet_lite0"}
    tv = build.torchvision_entries()
    curated = build.curated_entries({e.model: e for e in tv})
    shipped = {e.id: e for e in entries}
    for entry in curated + [e for e in tv if e.model not in {c.model for c in curated}]:
        assert shipped[entry.id] == entry
    sample = ["resnet10t.c3_in1k", "vit_small_patch14_dinov2.lvd142m", "convnext_tiny.fb_in22k"]
    for entry in build.timm_entries(sample):
        assert shipped[entry.id] == entry


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRANSFER_GUI_DATA_DIR": str(home)}
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "transfer_gui", *args],
                          capture_output=True, text=True, env=env, timeout=120, cwd=REPO)


def imported(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines()
            if line.startswith("import time:")}


def test_listing_is_quick_and_needs_no_torch(tmp_path):
    started = time.perf_counter()
    out = run_cli("backbones", "--json", home=tmp_path)
    took = time.perf_counter() - started
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out.stdout)
    sources = {row["source"] for row in rows}
    assert sources == {"bundled", "torchvision", "timm"}
    assert len(rows) > 1000 and rows[0]["id"] == "efficientnet_lite0"
    assert rows[0]["weights"] == "bundled"
    assert all(row["weights"] in ("bundled", "cached", "download", "none") for row in rows)
    modules = imported(out.stderr)
    assert not [m for m in modules if m.split(".")[0] in HEAVY]
    assert took < 10  # about 0.5 s on a quiet machine; the bound leaves room for a loaded one


def test_search_finds_dinov2(tmp_path):
    out = run_cli("backbones", "--search", "dinov2", "--json", home=tmp_path)
    ids = [row["id"] for row in json.loads(out.stdout)]
    assert "timm/vit_small_patch14_dinov2.lvd142m" in ids
    assert all("dinov2" in i for i in ids)
    text = run_cli("backbones", "--search", "convnext in22k", home=tmp_path).stdout
    assert "timm/convnext_tiny.fb_in22k" in text and "resnet" not in text


def test_other_versions_build_the_list_once_and_keep_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_GUI_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(catalog, "_LOADED", None)
    monkeypatch.setattr(catalog, "installed_versions",
                        lambda: {"timm": "0.0.1", "torchvision": "0.0.2"})
    built = []
    shipped = catalog.read_catalog(catalog.SHIPPED)
    assert shipped is not None
    few = shipped[1][:5]
    monkeypatch.setattr(build, "all_entries", lambda report=None: built.append(1) or few)
    first = catalog.load_catalog()
    assert first.origin == "built" and built == [1]
    assert catalog.user_cache(catalog.installed_versions()).is_file()
    monkeypatch.setattr(catalog, "_LOADED", None)
    again = catalog.load_catalog()
    assert again.origin == "cache" and built == [1] and len(again.entries) == 5


@pytest.mark.parametrize(("name", "family"), [
    ("resnet50d", "resnet"), ("convnextv2_tiny", "convnextv2"),
    ("efficientnet_v2_s", "efficientnetv2"), ("tf_efficientnetv2_s", "efficientnetv2"),
    ("mobilenet_v3_large", "mobilenetv3"), ("wide_resnet50_2", "wide_resnet"),
    ("vit_small_patch14_dinov2", "vit")])
def test_family(name, family):
    assert family_of(name) == family


@pytest.mark.parametrize(("name", "kind"), [
    ("convnext_tiny.fb_in22k_ft_in1k", "in21k"), ("vit_small_patch14_dinov2.lvd142m",
                                                   "self-supervised"),
    ("convnextv2_tiny.fcmae_ft_in1k", "self-supervised"), ("resnet50.a1_in1k", "in1k"),
    ("vit_base_patch16_clip_224.openai", "image-text"), ("resnet18.fb_swsl_ig1b_ft_in1k",
                                                          "other")])
def test_pretraining(name, kind):
    assert pretraining_of(name) == kind
