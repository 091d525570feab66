"""(e) GPU training throughput and model FLOP utilisation (MFU); skipped without CUDA.

For ResNet-50 and the bundled EfficientNet-Lite0, every layer training, bf16 autocast,
channels-last, cuDNN autotuning: the engine's own step (`Stepper`: AdamW, one-cycle schedule,
losses read one step late) on batches already on the GPU, so the figure is the model's, not
the input pipeline's. FLOPs per image are 3x the forward FLOPs that `torch.utils.flop_counter`
counts; MFU is the achieved FLOP/s over the peak of a large bf16 matrix product measured in
the same run. Then a whole `Trainer.fit` of ResNet-50 from scratch on generated
photos (decoded-image cache, augmentation on the GPU) shows whether the pipeline keeps up.

    python tests/bench/bench_gpu.py [--batch-size N] [--compile]
    python tests/bench/bench_gpu.py --device cpu --smoke   # exercise the code on a CPU
    python tests/bench/bench_gpu.py --scaling 2            # 1 vs 2 processes (scaling.py)

`--scaling N`: images/s with 1 and N processes (torchrun, DDP) and the efficiency, on N GPUs
where there are that many ("not measured" otherwise), always on the CPU with gloo, and the
efficiency expected on GPUs on paper (`scaling.py`).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from common import Timeline, fresh_cache, photos, report
from scaling import scaling_report
from torch.utils.flop_counter import FlopCounterMode

from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.events import Work
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.models.layers import layer_groups, set_trainable, train_mode
from transfer_gui.core.models.weights import build_model
from transfer_gui.core.train.loop import Trainer
from transfer_gui.core.train.recipe import (
    amp_dtype,
    configure_device,
    make_optimizer,
    make_scheduler,
    maybe_compile,
)
from transfer_gui.core.train.steps import EpochMeter, Optim, Stepper


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, n: int, repeats: int) -> float:
    """FLOP/s of an n x n x n bf16 matrix product (the practical peak of the tensor cores)."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def flops_per_image(model: torch.nn.Module, device: torch.device, side: int) -> float:
    """Training FLOPs per image: 3x the counted forward FLOPs (the backward pass costs about
    twice the forward). The backward is not counted directly because torch's flop counter
    overcounts grouped (depthwise) convolutions there by the group count."""
    x = torch.randn(4, 3, side, side, device=device).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return 3 * counter.get_total_flops() / 4


def step_rate(name: str, device: torch.device, batch: int, steps: int, side: int,
              compile_model: bool) -> tuple[float, float]:
    """(images/s of the engine's training step, FLOPs per image) for backbone `name`."""
    spec = get_spec(name)
    model = build_model(spec, 1000, pretrained=False).to(device)
    model.to(memory_format=torch.channels_last)
    groups = layer_groups(spec)
    set_trainable(model, groups, [g.name for g in groups])
    train_mode(model)
    flops = flops_per_image(model, device, side)
    dtype = amp_dtype(device, True)  # bf16 on GPUs that have it
    train = TrainConfig(lr=1e-3, epochs=1)
    optimizer = make_optimizer(model, groups, train, 1.0)
    scheduler = make_scheduler(optimizer, "onecycle", steps + 10)
    maybe_compile(model, compile_model)
    scaler = torch.amp.GradScaler(enabled=dtype == torch.float16)
    stepper = Stepper(model, lambda m, x: m(x), Optim(optimizer, scheduler, scaler), device,
                      dtype, 0.1)
    x = torch.randn(batch, 3, side, side, device=device).contiguous(
        memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=device)
    for _ in range(min(10, steps)):
        stepper.train(x, y)
    sync(device)
    meter = EpochMeter(Work(), 1, steps, lag=1 if device.type == "cuda" else 0)
    start = time.perf_counter()
    for step in range(steps):
        meter.add(step + 1, stepper.train(x, y), batch, 0.0)
    meter.finish()
    sync(device)
    return batch * steps / (time.perf_counter() - start), flops


def pipeline_rate(device: torch.device, per_class: int, batch: int, side: int) -> float:
    """images/s of epoch 2 of a whole ResNet-50 run from scratch on generated photos."""
    fresh_cache()
    config = RunConfig(DataConfig(root=str(photos(per_class)), val_split=0.1),
                       ModelConfig(backbone="resnet50", strategy="scratch"),
                       TrainConfig(epochs=2, batch_size=batch, device=device.type,
                                   image_size=side))
    timeline = Timeline()
    with tempfile.TemporaryDirectory() as out:
        Trainer().fit(config, Path(out) / "run", [timeline])
    return timeline.epoch_events[-1].images_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to test the script")
    parser.add_argument("--scaling", type=int, metavar="N",
                        help="images/s with 1 and N processes and the efficiency (see above)")
    args = parser.parse_args()
    if args.scaling:
        figures = scaling_report(args.scaling, args.smoke)
        cpu = figures["cpu_gloo"]
        efficiency = cpu["efficiency"] if isinstance(cpu, dict) else None
        report(f"Scaling over {args.scaling} processes", figures, efficiency,
               "GPUs: >= 0.9 on NVLink (on paper)", None,
               "GPU figures not measured without GPUs; the CPU figure is gloo on CPU cores")
        return
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU here: the GPU benchmark is skipped")
        report("GPU training MFU", {}, None, ">= 15 % MFU (ResNet-50, bf16)", None,
               "skipped: no CUDA GPU on this machine")
        return
    configure_device(device)
    side, batch, steps = (64, 4, 2) if args.smoke else (224, args.batch_size, args.steps)
    peak = matmul_peak(device, 1024 if args.smoke else 8192, 2 if args.smoke else 50)
    print(f"  bf16 matrix product: {peak / 1e12:.1f} TFLOP/s")
    figures: dict[str, float] = {"matmul_bf16_tflops": round(peak / 1e12, 1)}
    for name in ("resnet50", "efficientnet_lite0"):
        rate, flops = step_rate(name, device, batch, steps, side, args.compile)
        mfu = rate * flops / peak
        figures[f"{name}_images_per_s"] = round(rate, 1)
        figures[f"{name}_gflops_per_image"] = round(flops / 1e9, 2)
        figures[f"{name}_mfu_percent"] = round(100 * mfu, 1)
        print(f"  {name}: {rate:.0f} images/s, {flops / 1e9:.1f} GFLOP per image, "
              f"MFU {100 * mfu:.1f} %", flush=True)
    figures["resnet50_fit_epoch2_images_per_s"] = round(
        pipeline_rate(device, 2 if args.smoke else 256, batch, side), 1)
    mfu = figures["resnet50_mfu_percent"] / 100
    report("GPU training MFU, ResNet-50 bf16 channels-last", figures, mfu, ">= 0.15",
           mfu >= 0.15, f"batch {batch}, compile {args.compile}")


if __name__ == "__main__":
    main()
