"""Domain adaptation benchmark: where `--adapt auto` and the DANN/CORAL weights come from.

    python tests/bench/bench_adaptation.py [--shifts sketch,grayscale,...] [--seeds 1,2]
        [--choice-seeds 0] [--per-class 16] [--epochs 9] [--json FILE]

Source: photo-like generated images (`photos.photo`: smooth colour fields, texture, noise and
a class-specific coloured shape; 4 classes). Target: another draw of such photos, shifted:

* sketch: edges only (black lines on white), * grayscale: gray levels with a random gamma,
* lowres: a fifth of the resolution, blurred, * colour: a strong colour cast,
* texture: a busy texture of coloured blocks blended over the photo.

For each shift and seed (each seed its own draw of source and target images) every method
goes through the application (`Trainer().fit`, EfficientNet-Lite0 with its bundled ImageNet
weights, 64 px): source only (the linear probe), feature alignment, AdaBN, AdaBN + alignment
(linear probe; each run's `run.json` gives the target accuracy after every step), DANN and
CORAL (fine-tune from the probe, `ADAPT_LAYERS` groups; each + alignment), and the oracle
(a linear probe trained on half of the labelled target images, scored on the other half:
the ceiling). Target accuracy is over all the target images (their labels are used only to
score), as the Train page reports it. Seconds are each run's wall time.

Choice seeds run DANN and CORAL at several weights; the weights that do best on average over
the choice seeds become the defaults, and "auto" is the method best on average over the
shifts on the choice seeds (`choose`). The report seeds show the table the defaults are judged
on. `--no-gradient` leaves DANN and CORAL out (their runs are most of the time: on a busy
2-core CPU a DANN run of 5 epochs on 48 + 48 images at 64 px took 12 minutes, the statistics
methods' runs 2 to 3 minutes, most of that the probe's epochs).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageEnhance, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from photos import photo

from imagegen import SHAPES, blocks_background
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.config import (
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    TransferConfig,
)
from transfer_gui.core.io import bundle
from transfer_gui.core.train.loop import Trainer

SIZE = 72  # generated images; the network sees 64 px
CASTS = ((255, 150, 60), (70, 140, 255), (120, 255, 120), (255, 90, 200))


def _sketch(image: Image.Image, rng: random.Random) -> Image.Image:
    edges = image.convert("L").filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 1.2)))
    edges = edges.filter(ImageFilter.FIND_EDGES).point(lambda v: 0 if v > 18 else 255)
    return edges.filter(ImageFilter.MinFilter(3)).convert("RGB")


def _gray(image: Image.Image, rng: random.Random) -> Image.Image:
    gamma = rng.uniform(0.6, 1.6)
    return image.convert("L").point(lambda v: round(255 * (v / 255) ** gamma)).convert("RGB")


def _lowres(image: Image.Image, rng: random.Random) -> Image.Image:
    small = image.resize((SIZE // 5, SIZE // 5), Image.Resampling.BILINEAR)
    return small.resize(image.size, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(1))


def _colour(image: Image.Image, rng: random.Random) -> Image.Image:
    cast = Image.new("RGB", image.size, CASTS[rng.randrange(len(CASTS))])
    return ImageEnhance.Contrast(ImageChops.multiply(image, cast)).enhance(0.7)


def _texture(image: Image.Image, rng: random.Random) -> Image.Image:
    texture = blocks_background(SIZE, rng).filter(ImageFilter.GaussianBlur(0.5))
    return Image.blend(image, texture, 0.45)


SHIFTS = {"sketch": _sketch, "grayscale": _gray, "lowres": _lowres, "colour": _colour,
          "texture": _texture}


def make_folder(root: Path, per_class: int, seed: int, shift: str | None) -> Path:
    for shape in SHAPES:
        folder = root / shape
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rng = random.Random(f"{seed}-{shift}-{shape}-{i}")
            image = photo(shape, (SIZE, SIZE), rng)
            if shift is not None:
                image = SHIFTS[shift](image, rng)
            image.save(folder / f"{i:03d}.png")
    return root


BATCH = 8


def config(data: Path, seed: int, strategy: str, epochs: int | None,
           transfer: TransferConfig | None = None, val_split: float = 0.2) -> RunConfig:
    return RunConfig(DataConfig(root=str(data), val_split=val_split, seed=seed),
                     ModelConfig(backbone="efficientnet_lite0", strategy=strategy),
                     TrainConfig(epochs=epochs, batch_size=BATCH, image_size=64, augment="none",
                                 seed=seed, num_workers=0),
                     transfer or TransferConfig())


def run(data: Path, target: Path | None, out: Path, seed: int, strategy: str,
        epochs: int | None, mode: str = "none", weight: float | None = None,
        layers: int | None = None) -> tuple[dict[str, Any], float]:
    transfer = (TransferConfig(mode, target_dir=str(target), adapt_weight=weight,
                               adapt_layers=layers) if target is not None else None)
    started = time.perf_counter()
    result = Trainer().fit(config(data, seed, strategy, epochs, transfer), out)
    seconds = time.perf_counter() - started
    assert result.status in ("completed", "early-stopped"), result.message
    return bundle.read_meta(out).get("adaptation", {}), seconds


Grid = dict[str, list[tuple[float, int]]]  # method: its (weight, layers) settings


def tag(method: str, weight: float, layers: int, grid: Grid) -> str:
    """A gradient method's name in the table: "dann@1/L2" when its settings are swept."""
    return f"{method}@{weight:g}/L{layers}" if len(grid[method]) > 1 else method


TUNED = "fine-tune top"  # the row of the fine-tune strategy (its defaults) without DANN/CORAL
CONTROL = 1e-9  # DANN's weight in the control run: its recipe with no adaptation loss


def one_draw(work: Path, shift: str, seed: int, args: argparse.Namespace, grid: Grid,
             done: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """{method: (target accuracy, seconds)} of one shift and seed (`done`: figures an earlier
    run measured, kept). "fine-tune" is the control of the gradient methods: DANN's recipe
    (probe, then its layers train, the last epoch kept) with a weight of 1e-9, so only the
    source's loss moves the network."""
    source = make_folder(work / "source", args.per_class, seed, None)
    target = make_folder(work / "target", args.per_class, seed + 1000, shift)
    out = dict(done)
    if "align" not in out:
        note, seconds = run(source, target, work / "align", seed, "linear-probe", None, "align")
        out["source only"] = (note["target_acc_before"], seconds)
        out["align"] = (note["target_acc_after"], seconds)
    if "adabn+align" not in out:
        note, seconds = run(source, target, work / "adabn", seed, "linear-probe", None,
                            "adabn+align")
        steps = note["target_acc_steps"]
        out["adabn"], out["adabn+align"] = (steps["adabn"], seconds), (steps["align"], seconds)
    if grid and TUNED not in out:  # the fine-tune strategy's own recipe, then alignment
        note, seconds = run(source, target, work / "tuned", seed, "fine-tune", args.epochs,
                            "align")
        out[TUNED], out[f"{TUNED}+align"] = ((note["target_acc_before"], seconds),
                                             (note["target_acc_after"], seconds))
    runs = [(tag(m, w, n, grid), m, w, n) for m in grid for w, n in grid[m]]
    if "dann" in grid:
        layers = sorted({n for _, n in grid["dann"]})
        runs += [(f"fine-tune/L{n}" if len(layers) > 1 else "fine-tune", "dann", CONTROL, n)
                 for n in layers]
    for name, method, weight, layers in runs:
        if name in out:
            continue
        note, seconds = run(source, target, work / name.replace("/", "_"), seed, "fine-tune",
                            args.epochs, f"{method}+align", weight, layers)
        steps = note["target_acc_steps"]
        out[name], out[f"{name}+align"] = (steps[method], seconds), (steps["align"], seconds)
    if "oracle" not in out:
        started = time.perf_counter()
        Trainer().fit(config(target, seed, "linear-probe", None, val_split=0.5),
                      work / "oracle")
        oracle = evaluate_run(work / "oracle", None).result.accuracy  # its held-out half
        out["oracle"] = (oracle, time.perf_counter() - started)
    return out


def table(results: dict[str, dict[int, dict[str, tuple[float, float]]]],
          seeds: list[int]) -> str:
    draws = [per_seed[s] for per_seed in results.values() for s in seeds if s in per_seed]
    methods = [m for m in draws[0] if all(m in d for d in draws)]  # measured on every draw
    head = "| method | " + " | ".join(results) + " | mean | seconds |"
    lines = [head, "|" + "---|" * (len(results) + 3)]
    for method in methods:
        cells, means, times = [], [], []
        for per_seed in results.values():
            accs = [per_seed[s][method][0] for s in seeds if s in per_seed]
            times += [per_seed[s][method][1] for s in seeds if s in per_seed]
            cells.append(f"{statistics.mean(accs):.3f}")
            means.append(statistics.mean(accs))
        lines.append(f"| {method} | " + " | ".join(cells)
                     + f" | {statistics.mean(means):.3f} | {statistics.median(times):.0f} |")
    return "\n".join(lines)


STATISTICS = ("align", "adabn", "adabn+align")


def choose(results: dict[str, dict[int, dict[str, tuple[float, float]]]],
           seeds: list[int]) -> dict[str, Any]:
    """On the choice seeds: the best weight of each gradient method, and what "auto" becomes:
    for a frozen network the statistics method best on average over the shifts; for a
    trained one the best of alignment after the fine-tune strategy's own training and the
    gradient methods (each setting, alone or with alignment after it), where a gradient
    method, which costs a second batch every step, must beat that alignment by two standard
    errors of their paired difference over the choice draws. `beats` says on which shifts
    each method beat source-only there: the report seeds show whether that holds on other
    draws."""
    def mean(method: str, shift: str | None = None) -> float:
        shifts = [shift] if shift else list(results)
        return statistics.mean(results[s][seed][method][0] for s in shifts for seed in seeds)

    everywhere = set.intersection(*(set(results[s][seed]) for s in results for seed in seeds))
    chosen: dict[str, Any] = {"weights": {}, "layers": {}}
    for method in ("dann", "coral"):
        # a setting is judged by its result with alignment after it, as `auto` would use it
        tags = [m for m in everywhere if m.startswith(f"{method}@") and m.endswith("+align")]
        if tags:
            weight, layers = max(tags, key=mean).split("@")[1].split("+")[0].split("/L")
            chosen["weights"][method], chosen["layers"][method] = float(weight), int(layers)
    chosen["frozen"] = max(STATISTICS, key=mean)
    # for a trained network: alignment after the fine-tune strategy's own training, or a
    # gradient method (its settings), with or without alignment after it
    methods = [m for m in everywhere if m.startswith(("dann", "coral")) or m == f"{TUNED}+align"]
    if methods:
        best = max(methods, key=mean)
        cheap = f"{TUNED}+align"
        if best != cheap and cheap in methods:
            # DANN and CORAL run a second batch every step: they must beat alignment after
            # the fine-tune strategy's training by two standard errors of the paired
            # difference over the choice draws, else the cheaper method is chosen
            gaps = [results[s][seed][best][0] - results[s][seed][cheap][0]
                    for s in results for seed in seeds]
            margin = 2 * statistics.stdev(gaps) / len(gaps) ** 0.5 if len(gaps) > 1 else 0.0
            chosen["gradient_gap"] = {"best": best, "gap": round(statistics.mean(gaps), 4),
                                      "two_se": round(margin, 4)}
            if statistics.mean(gaps) < margin:
                best = cheap
        chosen["trained_row"] = best  # the table's row of the choice
        chosen["trained"] = "align" if best == cheap else re.sub(r"@[^+]*", "", best)
    else:
        chosen["trained"] = chosen["trained_row"] = chosen["frozen"]
    chosen["means"] = {m: round(mean(m), 4) for m in sorted(everywhere)}
    chosen["beats"] = {m: [s for s in results if mean(m, s) > mean("source only", s)]
                       for m in sorted(everywhere)}
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shifts", default=",".join(SHIFTS))
    parser.add_argument("--seeds", default="1,2", help="report seeds")
    parser.add_argument("--choice-seeds", default="0")
    parser.add_argument("--per-class", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=7, help="fine-tune runs: probe + N-1")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--no-gradient", action="store_true",
                        help="only the statistics methods (no DANN or CORAL runs)")
    parser.add_argument("--dann-weights", default="0.3,1,3")
    parser.add_argument("--coral-weights", default="1,10,100")
    parser.add_argument("--layers", default="1,2,4",
                        help="layer groups below the head that DANN and CORAL train")
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--resume", action="store_true",
                        help="keep the figures --json already holds; measure the others")
    args = parser.parse_args()
    global BATCH
    BATCH = args.batch_size
    common.fresh_cache()
    shifts = args.shifts.split(",")
    choice = [int(s) for s in args.choice_seeds.split(",") if s]
    report = [int(s) for s in args.seeds.split(",") if s]
    layers = [int(n) for n in args.layers.split(",")]
    grid: Grid = {} if args.no_gradient else {
        m: [(float(w), n) for w in ws.split(",") for n in layers]
        for m, ws in (("dann", args.dann_weights), ("coral", args.coral_weights))}
    results: dict[str, dict[int, dict[str, tuple[float, float]]]] = {s: {} for s in shifts}
    work = Path(tempfile.mkdtemp(prefix="adapt_bench_"))
    print(common.machine(), f"load {common.load_average()}", flush=True)
    chosen: dict[str, Any] = {}
    earlier = (json.loads(Path(args.json).read_text())["results"]
               if args.resume and args.json and Path(args.json).is_file() else {})
    for phase, seeds in (("choice", choice), ("report", report)):
        for seed in seeds:
            for shift in shifts:
                settings = grid if phase == "choice" else {
                    m: [(chosen["weights"].get(m, grid[m][0][0]),
                         chosen["layers"].get(m, grid[m][0][1]))] for m in grid}
                started = time.perf_counter()
                done = earlier.get(shift, {}).get(str(seed), {})  # --resume
                results[shift][seed] = one_draw(work / f"{shift}-{seed}", shift, seed, args,
                                                settings, {k: tuple(v) for k, v in done.items()})
                save(args.json, chosen, results)
                print(f"{phase} seed {seed} {shift} ({time.perf_counter() - started:.0f} s): "
                      + ", ".join(f"{m} {a:.3f}" for m, (a, _) in results[shift][seed].items()),
                      flush=True)
        if phase == "choice" and seeds:
            chosen = choose(results, seeds)
            chosen.update(choice_seeds=choice, report_seeds=report)
            print(f"\nchosen on seeds {seeds}: {json.dumps(chosen)}\n{table(results, seeds)}\n",
                  flush=True)
    if report:
        report_results = {s: {k: v for k, v in r.items() if k in report}
                          for s, r in results.items()}
        print(f"\nreport seeds {report} (defaults: {chosen.get('weights')}):\n"
              f"{table(report_results, report)}", flush=True)
    save(args.json, chosen, results)


def save(path: str | None, chosen: dict[str, Any],
         results: dict[str, dict[int, dict[str, tuple[float, float]]]]) -> None:
    """Every figure so far (after each draw, so a long run's results survive a stop)."""
    if path:
        Path(path).write_text(json.dumps({"chosen": chosen, "results": {
            s: {str(k): v for k, v in r.items()} for s, r in results.items()}}, indent=1))


if __name__ == "__main__":
    main()
