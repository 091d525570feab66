"""The on-disk feature cache: hits, misses, invalidation, equivalence, evaluation reuse."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.data.datasets import Preprocess
from transfer_gui.core.data.scan import scan_folder
from transfer_gui.core.events import CancelToken, FitStarted, Message, Progress, Recorder, Work
from transfer_gui.core.io import bundle
from transfer_gui.core.io import featurestore as cache
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.models.weights import build_model
from transfer_gui.core.train.features import FeatureRequest, body_features, open_store
from transfer_gui.core.train.loop import Trainer

CPU = torch.device("cpu")


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_DIR, str(folder))
    return folder


@pytest.fixture()
def data(shapes_dir, tmp_path):
    """A private copy of the shapes folder, free to change."""
    return shutil.copytree(shapes_dir, tmp_path / "data")


class BodyCalls:
    """Counts the images that go through a model's body."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.images = 0
        model.body.register_forward_hook(self._count)

    def _count(self, _module, inputs, _output) -> None:
        self.images += len(inputs[0])


def tiny_model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model(get_spec("tiny_cnn"), 3, pretrained=True)


def features(model, samples, pre, store):
    return body_features(model, FeatureRequest(samples, pre, 8, CPU), store, Work())[0]


def test_hits_misses_and_a_changed_file(data, fresh_cache):
    samples = scan_folder(data).samples
    assert all(s.digest for s in samples)  # the scan's content hash travels with the sample
    pre = Preprocess.for_backbone(get_spec("tiny_cnn"))
    model = tiny_model()
    calls = BodyCalls(model)
    store = open_store(model, "tiny_cnn", pre, CPU, None)
    first = features(model, samples, pre, store)
    assert calls.images == len(samples) and store.exists()

    again = features(model, samples, pre, store)
    assert calls.images == len(samples)  # nothing computed the second time
    torch.testing.assert_close(again, first)

    changed = samples[5].path
    Image.new("RGB", (64, 64), (10, 200, 30)).save(changed)
    rescanned = scan_folder(data).samples
    third = features(model, rescanned, pre, store)
    assert calls.images == len(samples) + 1  # only the changed file
    index = [s.path for s in rescanned].index(changed)
    assert not torch.allclose(third[index], first[[s.path for s in samples].index(changed)])

    moved = data / "circle" / "renamed.png"
    shutil.move(samples[0].path, moved)
    features(model, scan_folder(data).samples, pre, store)
    assert calls.images == len(samples) + 1  # same content, new name: still a hit


def test_weights_and_preprocessing_are_part_of_the_key(fresh_cache):
    spec = get_spec("tiny_cnn")
    pre = Preprocess.for_backbone(spec)
    a, b = tiny_model(), tiny_model()
    assert open_store(a, "tiny_cnn", pre, CPU, None).folder == \
           open_store(b, "tiny_cnn", pre, CPU, None).folder
    with torch.no_grad():
        b.body.stem[0].weight.add_(1e-3)
    assert open_store(a, "tiny_cnn", pre, CPU, None).folder != \
           open_store(b, "tiny_cnn", pre, CPU, None).folder
    bigger = Preprocess.for_backbone(spec, 48)
    assert open_store(a, "tiny_cnn", pre, CPU, None).folder != \
           open_store(a, "tiny_cnn", bigger, CPU, None).folder
    assert open_store(a, "tiny_cnn", pre, CPU, None).folder != \
           open_store(a, "tiny_cnn", pre, CPU, torch.bfloat16).folder


def test_shards_merge_and_a_damaged_shard_is_recomputed(fresh_cache, monkeypatch):
    monkeypatch.setattr(cache, "MAX_SHARDS", 3)
    store = cache.FeatureStore({"backbone": "x", "body": "y"})
    rows = np.arange(12, dtype=np.float32).reshape(6, 2)
    for i in range(6):
        store.add([f"d{i}"], rows[i : i + 1])
    assert len(list(store.folder.glob("*.npy"))) <= 3
    found = store.find([f"d{i}" for i in range(6)] + ["unknown", ""])
    assert sorted(found) == [f"d{i}" for i in range(6)]
    np.testing.assert_array_equal(found["d4"], rows[4])
    assert not list(store.folder.glob(".*.tmp"))  # atomic writes leave nothing behind
    for npy in store.folder.glob("*.npy"):
        npy.write_bytes(b"damaged")
    assert store.find(["d1"]) == {}


def fit(data, out, **train):
    train.setdefault("epochs", 3)
    rec = Recorder()
    cfg = RunConfig(DataConfig(root=str(data)), ModelConfig(backbone="tiny_cnn"),
                    TrainConfig(batch_size=8, **train))
    result = Trainer().fit(cfg, out, [rec])
    return result, rec


def test_cached_run_equals_uncached_linear_probe_and_reruns_from_cache(data, fresh_cache,
                                                                       tmp_path, monkeypatch):
    plain, rec = fit(data, tmp_path / "plain", cache_features=False)
    assert not rec.of(FitStarted)[0].feature_cache
    cached, rec = fit(data, tmp_path / "cached")
    assert rec.of(FitStarted)[0].feature_cache
    for a, b in zip(plain.history, cached.history, strict=True):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert a[key] == pytest.approx(b[key], abs=1e-5), key
    heads = [bundle.load_run(tmp_path / n).model.head.weight for n in ("plain", "cached")]
    torch.testing.assert_close(heads[0], heads[1], atol=1e-5, rtol=1e-4)

    def no_body(*_args, **_kwargs):
        raise AssertionError("the body ran although every feature was cached")

    monkeypatch.setattr("transfer_gui.core.train.features._Extraction.body", no_body)
    again, rec = fit(data, tmp_path / "again")
    assert [h["train_loss"] for h in again.history] == [h["train_loss"] for h in cached.history]
    texts = [m.text for m in rec.of(Message)]
    assert "features: 48 of 48 images from the feature cache" in texts


def test_evaluation_reuses_features_of_an_unchanged_body(data, fresh_cache, tmp_path,
                                                         monkeypatch):
    fit(data, tmp_path / "probe")
    run = bundle.load_run(tmp_path / "probe")
    calls = BodyCalls(run.model)
    cached = evaluate_run(run, device="cpu")
    assert calls.images == 0  # the validation split's features were cached by training
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "empty"))
    plain = evaluate_run(bundle.load_run(tmp_path / "probe"), device="cpu")
    np.testing.assert_allclose([i.loss for i in cached.result.items],
                               [i.loss for i in plain.result.items], atol=1e-5)
    assert cached.result.confusion.tolist() == plain.result.confusion.tolist()
    assert not (tmp_path / "empty").exists()  # no cache for a body that never had one

    monkeypatch.setenv(cache.ENV_DIR, str(fresh_cache))
    cfg = RunConfig(DataConfig(root=str(data)), ModelConfig(backbone="tiny_cnn", strategy="full"),
                    TrainConfig(epochs=1, batch_size=8, probe_first=False))  # body trains
    Trainer().fit(cfg, tmp_path / "tuned", [])
    tuned = bundle.load_run(tmp_path / "tuned")
    calls = BodyCalls(tuned.model)
    evaluate_run(tuned, device="cpu")
    assert calls.images == 9  # a trained body has no cached features: computed normally


class CancelDuringExtraction(Recorder):
    def __init__(self, token: CancelToken, after: int) -> None:
        super().__init__()
        self.token, self.after = token, after

    def on_progress(self, event: Progress) -> None:
        super().on_progress(event)
        if event.phase == "features" and event.done >= self.after:
            self.token.cancel()


def test_cancelled_extraction_keeps_what_it_computed(data, fresh_cache, tmp_path, monkeypatch):
    monkeypatch.setattr("transfer_gui.core.train.sources.CPU_EXTRACT_BATCH", 8)
    token = CancelToken()
    cfg = RunConfig(DataConfig(root=str(data)), ModelConfig(backbone="tiny_cnn"),
                    TrainConfig(epochs=2, batch_size=8))
    result = Trainer().fit(cfg, tmp_path / "stopped", [CancelDuringExtraction(token, 16)],
                           cancel=token)
    assert result.status == "cancelled"
    assert bundle.load_run(tmp_path / "stopped").meta["status"] == "cancelled"
    rec = Recorder()
    result = Trainer().fit(cfg, tmp_path / "again", [rec])
    assert result.status == "completed"
    texts = [m.text for m in rec.of(Message)]
    assert "features: 16 of 48 images from the feature cache" in texts
