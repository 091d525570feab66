"""What a DANN or CORAL step costs against a source-only step, on this machine.

    python tests/bench/bench_adapt_step.py [--sizes 64,112] [--layers 1,2] [--batch 16]
        [--steps 10] [--threads 1]

EfficientNet-Lite0 (bundled ImageNet weights) with its top N layer groups and the head
training, as the fine-tune strategy and DANN/CORAL's `--adapt-layers` set them: a source-only
step (`Stepper.train` on a batch of source images) against a paired step (`PairedStepper`:
the same batch plus as many target images, with DANN's domain classifier or CORAL's
covariance term). Process CPU time per step, mean of `--steps` steps after two warm-up steps,
on random images (the cost does not depend on what they show). The Transfer form's tooltip
quotes the ratio (`DANN_CPU_RATIO` in `ui/pages/transfer_form.py`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from transfer_gui.core.config import TransferConfig
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.models.freezing import layer_groups, preset
from transfer_gui.core.models.layers import set_trainable
from transfer_gui.core.models.weights import build_model
from transfer_gui.core.train.steps import Optim, Stepper
from transfer_gui.core.train.transfer.paired_steps import DomainClassifier, PairedStepper

CLASSES = 4


def stepper(method: str | None, layers: int) -> Stepper:
    torch.manual_seed(0)
    spec = get_spec("efficientnet_lite0")
    model = build_model(spec, CLASSES)
    groups = layer_groups(spec, [n for n, _ in model.named_parameters()])
    set_trainable(model, groups, preset("fine-tune", groups, layers))
    model.train()
    domain = DomainClassifier(model.feature_dim) if method == "dann" else None
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([*params, *(domain.parameters() if domain else [])], 1e-4)
    optim = Optim(optimizer, torch.optim.lr_scheduler.ConstantLR(optimizer, 1.0, 0))
    cpu = torch.device("cpu")
    if method is None:
        return Stepper(model, lambda m, x: m(x), optim, cpu)
    return PairedStepper(model, lambda m, x: m(x), optim, cpu, total_steps=100, domain=domain,
                         transfer=TransferConfig(method, target_dir="t", adapt_weight=1.0))


def seconds_per_step(method: str | None, layers: int, size: int, batch: int,
                     steps: int) -> float:
    run = stepper(method, layers)
    x, y = torch.randn(batch, 3, size, size), torch.randint(0, CLASSES, (batch,))
    other = (torch.randn(batch, 3, size, size), torch.zeros(batch, dtype=torch.long))
    times = []
    for i in range(steps + 2):
        started = time.process_time()
        if method is None:
            run.train(x, y)
        else:
            run.train(x, y, other)  # type: ignore[call-arg]
        if i >= 2:
            times.append(time.process_time() - started)
    return sum(times) / len(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="64,112")
    parser.add_argument("--layers", default="1,2")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(common.machine(), f"load {common.load_average()}, "
          f"batch {args.batch} (+ {args.batch} target)", flush=True)
    print("| image size | groups training | source only s | DANN s (ratio) | CORAL s (ratio) |")
    print("|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        for layers in (int(n) for n in args.layers.split(",")):
            base = seconds_per_step(None, layers, size, args.batch, args.steps)
            dann = seconds_per_step("dann", layers, size, args.batch, args.steps)
            coral = seconds_per_step("coral", layers, size, args.batch, args.steps)
            print(f"| {size} | {layers} | {base:.3f} | {dann:.3f} ({dann / base:.1f}x) | "
                  f"{coral:.3f} ({coral / base:.1f}x) |", flush=True)


if __name__ == "__main__":
    main()
