"""How fast a model runs on this computer: a short timed forward pass, asked for by the user,
remembered on disk so the list shows it next time (read without torch)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...atomic import write_json
from ...events import CancelToken, Task
from ...places import data_home
from .catalog import load_catalog
from .entry import ZooEntry

BATCH = 4


def speed_file() -> Path:
    return data_home() / "zoo" / "speed.json"


def _read() -> dict[str, Any]:
    try:
        data = json.loads(speed_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def measured_speeds() -> dict[str, float]:
    """Images per second of each model measured before (the latest timing of each)."""
    return {k: float(v["images_per_s"]) for k, v in _read().items()
            if isinstance(v, dict) and "images_per_s" in v}


def network(entry: ZooEntry) -> Any:
    """The random-init network of `entry` (its own classifier): enough to time it."""
    if entry.source == "timm":
        import timm

        return timm.create_model(entry.architecture, pretrained=False)
    if "/" in entry.id:
        import torchvision.models as tvm

        return tvm.get_model(entry.model, weights=None)
    from ..backbones import get_spec

    return get_spec(entry.id).builder()


def measure_speed(model_id: str, callbacks: Task | Iterable = (),
                  cancel: CancelToken | None = None, seconds: float = 1.0) -> float:
    """Images per second in evaluation mode at the model's own input size, on the GPU when
    there is one: a warm-up pass, then passes for about `seconds`."""
    import torch

    task = Task.of(callbacks, cancel)
    entry = load_catalog().get(model_id)
    if entry is None:
        from ...schema import ConfigError

        raise ConfigError(f"unknown backbone {model_id!r}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    task.progress(0, 0, f"timing {entry.title}")
    net = network(entry).eval().to(device)
    images = torch.randn(BATCH, 3, entry.image_size, entry.image_size, device=device)
    passes, start = 0, 0.0
    with torch.inference_mode():
        net(images)  # warm-up: kernels chosen, memory allocated
        start = time.perf_counter()
        while passes < 2 or (time.perf_counter() - start < seconds and passes < 50):
            task.check()
            net(images)
            passes += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
    rate = BATCH * passes / (time.perf_counter() - start)
    data = _read()
    data[model_id] = {"images_per_s": round(rate, 1), "device": device.type, "batch": BATCH}
    speed_file().parent.mkdir(parents=True, exist_ok=True)
    write_json(speed_file(), data)
    return rate
