"""The GPU path's logic, checked on the CPU: out-of-memory recovery by injected errors, the
automatic batch size, deferred loss reads, and batch augmentation of cached images."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from oom import OOM, fail_above
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.data.batches import ImageBatches
from transfer_gui.core.data.datasets import (
    Augment,
    ImageDataset,
    Preprocess,
    augment_preset,
    eval_transform,
)
from transfer_gui.core.data.gpuaug import GpuBatches, augment_batch, crop_boxes
from transfer_gui.core.data.imagecache import DecodedCache, prefill
from transfer_gui.core.data.scan import scan_folder
from transfer_gui.core.events import BatchEnded, Message, Recorder, Work
from transfer_gui.core.io import bundle
from transfer_gui.core.models.backbones import TransferNet
from transfer_gui.core.train.autobatch import (
    Chunking,
    OutOfMemory,
    largest_fitting,
    probe_batch_size,
    settle_batch_size,
)
from transfer_gui.core.train.loop import Trainer, TrainingFailed, prepare
from transfer_gui.core.train.steps import EpochMeter, Optim, Stepper

CPU = torch.device("cpu")
def test_chunking_doubles_until_it_fits_and_says_so():
    rec = Recorder()
    chunking = Chunking(CPU, Work([rec]))
    seen: list[int] = []

    def work(chunks: int) -> int:
        seen.append(chunks)
        if -(-64 // chunks) > 10:
            raise OOM("injected")
        return chunks

    assert chunking.run(work, 64) == 8 and seen == [1, 2, 4, 8]
    assert chunking.run(work, 64) == 8  # stays split for the rest of the run
    texts = [m.text for m in rec.of(Message)]
    assert len(texts) == 3 and "8 chunks of 8" in texts[-1]

    with pytest.raises(OutOfMemory, match="even 2 images at a time"):
        Chunking(CPU).run(lambda _chunks: (_ for _ in ()).throw(OOM("always")), 64)


def test_largest_fitting_halves():
    tried: list[int] = []

    def attempt(n: int) -> None:
        tried.append(n)
        if n > 40:
            raise OOM("injected")

    rec = Recorder()
    assert largest_fitting(attempt, 256, CPU, Work([rec])) == 32
    assert tried == [256, 128, 64, 32] and len(rec.of(Message)) == 3
    with pytest.raises(OutOfMemory):
        largest_fitting(lambda n: (_ for _ in ()).throw(OOM("x")), 8, CPU)


def make_stepper(model: nn.Module, lr: float = 0.1) -> Stepper:
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    return Stepper(model, lambda m, x: m(x), Optim(optimizer, scheduler), CPU)


def test_a_split_step_equals_the_whole_batch():
    torch.manual_seed(0)
    whole = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    split = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    split.load_state_dict(whole.state_dict())
    split.register_forward_pre_hook(fail_above(4))
    x, y = torch.randn(16, 3, 2, 2), torch.randint(0, 3, (16,))
    a, b = make_stepper(whole), make_stepper(split)
    stats_a, stats_b = a.train(x, y), b.train(x, y)
    assert b.chunking.chunks == 4
    torch.testing.assert_close(stats_a, stats_b)
    for p, q in zip(whole.parameters(), split.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    torch.testing.assert_close(a.evaluate(x, y), b.evaluate(x, y))


def config(root, **train) -> RunConfig:
    train.setdefault("epochs", 2)
    train.setdefault("batch_size", 16)
    train.setdefault("probe_first", False)  # every epoch takes gradient steps
    return RunConfig(DataConfig(root=str(root)), ModelConfig(backbone="tiny_cnn", strategy="full"),
                     TrainConfig(augment="light", **train))


def every_model_fails_above(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    original = TransferNet.__init__

    def init(self, body, head):
        original(self, body, head)
        self.register_forward_pre_hook(fail_above(limit))

    monkeypatch.setattr(TransferNet, "__init__", init)


def test_training_survives_out_of_memory(shapes_dir, tmp_path, monkeypatch):
    every_model_fails_above(monkeypatch, 5)
    rec = Recorder()
    result = Trainer().fit(config(shapes_dir), tmp_path / "run", [rec])
    assert result.status == "completed" and len(result.history) == 2
    warnings = [m.text for m in rec.of(Message) if m.level == "warning"]
    assert len(warnings) == 2 and "4 chunks of 4" in warnings[-1]
    assert len(rec.of(BatchEnded)) == 2 * 3  # the same steps as without the errors


def test_out_of_memory_even_for_small_chunks_stops_cleanly(shapes_dir, tmp_path, monkeypatch):
    every_model_fails_above(monkeypatch, 1)
    with pytest.raises(TrainingFailed, match="smaller image size") as info:
        Trainer().fit(config(shapes_dir), tmp_path / "run", [])
    assert isinstance(info.value.__cause__, OutOfMemory)
    run = bundle.load_run(tmp_path / "run")  # what there is stays loadable
    assert run.meta["status"] == "failed" and "out of GPU memory" in run.meta["message"]


def test_automatic_batch_size_probe_restores_the_model(shapes_dir):
    prep = prepare(config(shapes_dir, auto_batch_size=True))
    hook = prep.model.register_forward_pre_hook(fail_above(12))
    before = {k: v.clone() for k, v in prep.model.state_dict().items()}
    rec = Recorder()
    assert probe_batch_size(prep, CPU, None, True, Work([rec])) == 8  # 32 (39 images), 16, 8
    for key, value in prep.model.state_dict().items():
        assert torch.equal(value, before[key]), key  # BatchNorm statistics untouched
    assert all(p.grad is None for p in prep.model.parameters())
    hook.remove()
    same = settle_batch_size(prep, CPU, None, True, Work([rec]))
    assert same.config.train.batch_size == 16  # the CPU keeps the configured size
    assert "automatic batch size is for GPU training" in rec.of(Message)[-1].text


def test_meter_reads_losses_one_step_late():
    rec = Recorder()
    meter = EpochMeter(Work([rec]), epoch=1, steps=3, lag=1)
    for step in (1, 2, 3):
        meter.add(step, torch.tensor([2.0 * step, 1.0]), 2, 0.1)
        assert len(rec.of(BatchEnded)) == step - 1
    loss, acc, ips = meter.finish()
    events = rec.of(BatchEnded)
    assert [e.batch for e in events] == [1, 2, 3] and [e.loss for e in events] == [1, 2, 3]
    assert loss == pytest.approx(2.0) and acc == pytest.approx(0.5) and ips > 0


def test_crop_boxes_stay_inside_and_repeat_with_the_seed():
    spec = augment_preset("standard")
    sizes = [(256, 341), (341, 256), (256, 256), (256, 2000)]
    a = crop_boxes(sizes, spec, torch.Generator().manual_seed(1))
    b = crop_boxes(sizes, spec, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    heights = torch.tensor([h for h, _ in sizes], dtype=torch.float32)
    widths = torch.tensor([w for _, w in sizes], dtype=torch.float32)
    assert (a[:, 0] >= 0).all() and (a[:, 1] >= 0).all()
    assert (a[:, 2] <= widths).all() and (a[:, 3] <= heights).all()
    area = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) / (heights * widths)
    assert (area[:3] >= 0.25 - 0.01).all()
    # too wide for any allowed crop: torchvision's fallback, the central 4:3 part
    assert a[3].tolist() == [829.0, 0.0, 1170.0, 256.0]


def test_batch_augmentation_of_a_whole_image_is_a_resize():
    images = [torch.full((3, 56, 70), 200, dtype=torch.uint8),
              torch.randint(0, 256, (3, 70, 56), dtype=torch.uint8)]
    pre = Preprocess(image_size=48, resize_size=56)
    x = augment_batch(images, pre, augment_preset("standard"), torch.Generator().manual_seed(0),
                      CPU)
    assert x.shape == (2, 3, 48, 48) and x.min() >= 0 and x.max() <= 1
    whole = Augment(scale=(1.0, 1.0), ratio=(1.25, 1.25))
    y = augment_batch(images[:1], pre, whole, torch.Generator().manual_seed(0), CPU)
    torch.testing.assert_close(y, torch.full_like(y, 200 / 255))  # flat stays flat


def test_gpu_batches_match_the_dataloader_path_for_validation(shapes_dir):
    samples = scan_folder(shapes_dir).samples[:10]
    pre = Preprocess(image_size=48, resize_size=56)
    cache = DecodedCache(1 << 30)
    prefill(cache, [s.path for s in samples], pre.resize_size)
    dataset = ImageDataset(samples, pre, eval_transform(pre), cache)
    gpu = GpuBatches(dataset, dataset, "standard", 4, 0, CPU, channels_last=True)
    plain = ImageBatches(dataset, dataset, 4, 0, 0, CPU)
    for a, b in zip(gpu.val_batches(), plain.val_batches(), strict=True):
        torch.testing.assert_close(a.x, b.x)
        assert torch.equal(a.y, b.y) and a.x.is_contiguous(memory_format=torch.channels_last)
    batches = list(gpu.train_epoch(1))
    assert len(batches) == gpu.steps_per_epoch == 3
    assert batches[0].x.shape == (4, 3, 48, 48)
    again = list(gpu.train_epoch(1))
    torch.testing.assert_close(batches[0].x, again[0].x)  # the epoch's seed fixes it


def test_hue_rotation_by_zero_or_a_full_turn_is_the_identity():
    from transfer_gui.core.data.gpuaug import _hue

    x = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(_hue(x, torch.zeros(2, 1, 1, 1)), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(_hue(x, torch.ones(2, 1, 1, 1)), x, atol=1e-5, rtol=0)
    assert not torch.allclose(_hue(x, torch.full((2, 1, 1, 1), 0.25)), x, atol=1e-2)
