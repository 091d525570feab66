"""(a) The engine's training step against a hand-written PyTorch loop, same settings.

The engine runs the current default recipe of full fine-tuning (LP-FT): epoch 1 is the linear
probe on cached features (no gradient steps through the network), then every layer trains with
AdamW at layer-decayed rates, a one-cycle schedule, label smoothing 0.1 and BatchNorm
statistics frozen. The hand-written loop trains the same network the same way (the same
parameter groups, BatchNorm layers in eval mode, the same batch size, precision and memory
format: channels-last; bf16 autocast on CUDA, float32 on the CPU), but gets its images
ready-made as one normalised tensor in memory, so it measures pure compute; the engine reads its
decoded-image cache, crops and normalises per image, and sends its events.

The two alternate epoch by epoch (the hand-written epoch runs from the engine's epoch-end
callback, outside the engine's timing), so on a shared machine both see the same conditions;
the figure is the median over epoch pairs of the ratio of training-phase images/s, fine-tuning
epochs only, leaving out the first of them (kernel warm-up): with the default 6 epochs, the
pairs of epochs 3 to 6. The probe's epoch is not a training step and is not compared.

    python tests/bench/bench_training_step.py [--backbone NAME] [--batch-size N] [--epochs N]
        [--per-class N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from common import Timeline, fresh_cache, median, photos, report

from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.data.datasets import ImageDataset, eval_transform
from transfer_gui.core.events import Callback, EpochEnded
from transfer_gui.core.models.layers import param_groups
from transfer_gui.core.train.loop import Trainer, prepare
from transfer_gui.core.train.recipe import (
    amp_dtype,
    autocast,
    channels_last_for,
    lr_ratio_for,
    pick_device,
)

SKIPPED = 2  # epochs left out of the comparison: the probe, then the first fine-tuning epoch


def run_config(root: Path, args: argparse.Namespace) -> RunConfig:
    return RunConfig(
        DataConfig(root=str(root), val_split=0.1),
        ModelConfig(backbone=args.backbone, strategy="full"),
        TrainConfig(epochs=args.epochs, batch_size=args.batch_size, augment="none",
                    device=args.device),
    )


class HandLoop:
    """The loop one would write by hand, on the same model and images."""

    def __init__(self, config: RunConfig) -> None:
        prep = prepare(config)
        self.device = pick_device(config.train.device)
        self.dtype = amp_dtype(self.device, config.train.mixed_precision)
        self.fmt = (torch.channels_last if channels_last_for(self.device)
                    else torch.contiguous_format)
        self.model = prep.model.to(self.device).to(memory_format=self.fmt).train()
        cfg = prep.config.train
        if cfg.freeze_bn:  # BatchNorm keeps its pretrained statistics, as the recipe says
            for module in self.model.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.eval()
        dataset = ImageDataset(prep.train, prep.preprocess, eval_transform(prep.preprocess))
        self.images = torch.stack([dataset[i][0] for i in range(len(dataset))]).to(self.device)
        self.labels = torch.tensor([s.label for s in prep.train], device=self.device)
        self.batch_size = cfg.batch_size
        assert cfg.epochs is not None and cfg.lr is not None
        steps = (cfg.epochs + 1) * -(-len(self.labels) // cfg.batch_size)
        groups = param_groups(self.model, prep.groups, cfg.lr, cfg.weight_decay,
                              lr_ratio_for(config.model.strategy), cfg.layer_decay)
        self.optimizer = torch.optim.AdamW(groups, lr=cfg.lr)
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, [g["lr"] for g in groups], total_steps=steps, pct_start=0.25)

    def epoch(self) -> float:
        """Train one epoch; returns its images/s."""
        start = time.perf_counter()
        for idx in torch.randperm(len(self.labels), device=self.device).split(self.batch_size):
            x = self.images[idx].contiguous(memory_format=self.fmt)
            with autocast(self.device, self.dtype):
                logits = self.model(x)
            loss = F.cross_entropy(logits.float(), self.labels[idx], label_smoothing=0.1)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.schedule.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return len(self.labels) / (time.perf_counter() - start)


class Interleave(Callback):
    """Runs one hand-written epoch after each of the engine's epochs."""

    def __init__(self, hand: HandLoop) -> None:
        self.hand = hand
        self.rates: list[float] = []

    def on_epoch_end(self, event: EpochEnded) -> None:
        self.rates.append(self.hand.epoch())
        print(f"epoch {event.epoch}: engine {event.images_per_s:.1f}, hand-written "
              f"{self.rates[-1]:.1f} images/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--per-class", type=int, default=36)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    fresh_cache()
    root = photos(args.per_class)
    config = run_config(root, args)
    hand = HandLoop(config)
    hand.epoch()  # its warm-up, like the engine's first epoch
    interleave, timeline = Interleave(hand), Timeline()
    with tempfile.TemporaryDirectory() as out:
        Trainer().fit(config, Path(out) / "run", [timeline, interleave])
    if args.epochs <= SKIPPED:
        raise SystemExit(f"--epochs must be more than {SKIPPED}")
    engine = [e.images_per_s for e in timeline.epoch_events[SKIPPED:]]
    pairs = [e / h for e, h in zip(engine, interleave.rates[SKIPPED:], strict=True)]
    ratio = median(pairs)
    report("training step: engine vs hand-written loop",
           {"engine_images_per_s": round(median(engine), 2),
            "hand_images_per_s": round(median(interleave.rates[SKIPPED:]), 2),
            "pair_ratios": [round(r, 3) for r in pairs], "backbone": args.backbone,
            "batch_size": args.batch_size, "train_images": len(hand.labels)},
           ratio, ">= 0.95", ratio >= 0.95)


if __name__ == "__main__":
    main()
