"""The decoded-image cache: memory budget, memory-mapped spill, decoding once per run."""

from __future__ import annotations

import torch

from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.data import datasets
from transfer_gui.core.data.datasets import ImageDataset, Preprocess, train_transform
from transfer_gui.core.data.imagecache import DecodedCache, prefill
from transfer_gui.core.data.scan import scan_folder
from transfer_gui.core.events import Message, Recorder
from transfer_gui.core.train.loop import Trainer


def image(seed: int, height: int = 20, width: int = 30) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator)


def test_budget_then_spill_to_a_memory_map(tmp_path):
    size = 3 * 20 * 30
    cache = DecodedCache(budget_bytes=3 * size, spill_dir=tmp_path, segment_bytes=4 * size)
    images = {f"img{i}": image(i) for i in range(10)}
    for key, value in images.items():
        assert cache.put(key, value)
    assert cache.ram_bytes == 3 * size and cache.spill_bytes == 7 * size
    assert len(cache) == 10 and "img9" in cache and cache.get("missing") is None
    for key, value in images.items():
        assert torch.equal(cache.get(key), value), key
    assert cache.get("img9").shape == (3, 20, 30)
    assert "memory-mapped" in cache.summary()
    cache.close()
    assert len(cache) == 0 and cache.get("img0") is None
    assert not list(tmp_path.iterdir())  # spill files are anonymous: nothing left on disk


def test_without_a_spill_folder_the_budget_is_a_limit():
    cache = DecodedCache(budget_bytes=2000)
    assert cache.put("a", image(0))  # 1800 bytes
    assert not cache.put("b", image(1))
    assert cache.get("b") is None


def test_a_full_disk_stops_spilling(tmp_path, monkeypatch):
    from transfer_gui.core.data import imagecache

    monkeypatch.setattr(imagecache, "DISK_RESERVE", 1 << 60)
    cache = DecodedCache(budget_bytes=0, spill_dir=tmp_path)
    assert not cache.put("a", image(0))
    assert "disk space" in cache.spill_failed


def test_prefill_decodes_each_file_once_and_epochs_then_hit(shapes_dir, monkeypatch):
    samples = scan_folder(shapes_dir).samples[:12]
    pre = Preprocess(image_size=48, resize_size=56)
    loads: list[str] = []
    original = datasets.load_base

    def counting(path: str, resize_size: int) -> torch.Tensor:
        loads.append(path)
        return original(path, resize_size)

    monkeypatch.setattr(datasets, "load_base", counting)
    cache = DecodedCache(budget_bytes=1 << 30)
    held = prefill(cache, [s.path for s in samples] * 2, pre.resize_size, threads=2)
    assert held == 24 and sorted(loads) == sorted(s.path for s in samples)
    dataset = ImageDataset(samples, pre, train_transform(pre, "light"), cache)
    for _epoch in range(2):
        for i in range(len(dataset)):
            x, _, loaded = dataset[i]
            assert loaded
            assert x.shape == (3, 48, 48)
    assert len(loads) == len(samples)  # no decoding after the first pass


def test_an_unreadable_file_is_not_cached(shapes_dir, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    cache = DecodedCache(budget_bytes=1 << 30)
    good = str(next(shapes_dir.rglob("*.png")))
    assert prefill(cache, [good, str(broken)], 40) == 1
    assert str(broken) not in cache


def test_training_reports_the_cache_and_decodes_once(shapes_dir, tmp_path, monkeypatch):
    decoded: list[str] = []
    original = datasets.load_base
    monkeypatch.setattr(datasets, "load_base",
                        lambda path, side: decoded.append(path) or original(path, side))
    rec = Recorder()
    cfg = RunConfig(DataConfig(root=str(shapes_dir)),
                    ModelConfig(backbone="tiny_cnn", strategy="full"),
                    # one stage: a probe-first run's feature pass decodes each file once more
                    TrainConfig(epochs=3, batch_size=8, augment="light", cache_memory_mb=0,
                                probe_first=False))
    result = Trainer().fit(cfg, tmp_path / "run", [rec])
    assert result.status == "completed"
    assert len(decoded) == 48  # 3 epochs of training and validation, one decode per file
    texts = [m.text for m in rec.of(Message)]
    assert any("48 decoded images cached: 0 MiB in memory" in t and "memory-mapped" in t
               for t in texts), texts
