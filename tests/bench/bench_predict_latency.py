"""(d) Latency of classifying one dropped image with a model already loaded.

The `Predictor` is built once (as the Predict page holds it); each drop then decodes the file
(JPEG draft mode), resizes, crops and runs the network on that one image. Measured for a
1.9 megapixel photo-like JPEG and a small photograph, with the bundled EfficientNet-Lite0 and
its ImageNet head, on the device "auto" picks.

    python tests/bench/bench_predict_latency.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from common import photos, report, timed

from transfer_gui.core.analysis.predict import Predictor
from transfer_gui.core.data.images import decode

SMALL = Path(__file__).resolve().parents[1] / "data" / "chelsea.jpg"


def latencies(predictor: Predictor, path: str, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict_paths([path], top_k=5)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    big = str(sorted(photos(2, size=(1600, 1200)).rglob("*.jpg"))[0])
    load_s, predictor = timed(lambda: Predictor.imagenet("efficientnet_lite0"))
    figures: dict[str, float] = {"model_load_ms": round(load_s * 1000, 1)}
    for name, path in (("photo_1.9mp", big), ("small_photo", str(SMALL))):
        times = latencies(predictor, path, args.repeats)
        figures[f"{name}_first_ms"] = round(times[0], 1)
        figures[f"{name}_median_ms"] = round(statistics.median(times), 1)
        figures[f"{name}_p90_ms"] = round(sorted(times)[int(0.9 * (len(times) - 1))], 1)
        print(f"  {name}: first {times[0]:.1f} ms, median {statistics.median(times):.1f} ms",
              flush=True)
    image = decode(big, min_side=predictor.preprocess.resize_size)
    cam_s, _ = timed(lambda: predictor.gradcam(image))
    figures["gradcam_ms"] = round(cam_s * 1000, 1)
    print(f"  model load {figures['model_load_ms']} ms, Grad-CAM {figures['gradcam_ms']} ms")
    value = figures["photo_1.9mp_median_ms"]
    report("prediction latency, one 1.9 MP image, model loaded (ms)", figures, value,
           "<= 150 ms", value <= 150)


if __name__ == "__main__":
    main()
