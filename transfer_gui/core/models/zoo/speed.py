"""How fast a model runs on this computer: a short timed forward pass, asked for by the user,
remembered on disk so the list shows it next time (read without torch)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...atomic import write_json
from ...events import CancelToken, Work
from ...places import data_home
from .catalog import load_catalog

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


def network(model_id: str) -> tuple[Any, int, str]:
    """The random-init network of `model_id` (its own classifier), its input size and title:
    enough to time it. A backbone registered in this process but not listed is found too."""
    entry = load_catalog().get(model_id)
    if entry is None or "/" not in entry.id:
        from ..backbones import get_spec

        spec = get_spec(model_id)  # ConfigError when unknown
        return spec.builder(), spec.image_size, spec.title
    if entry.source == "timm":
        import timm

        return timm.create_model(entry.architecture, pretrained=False), entry.image_size, \
            entry.title
    import torchvision.models as tvm

    return tvm.get_model(entry.model, weights=None), entry.image_size, entry.title


def measure_speed(model_id: str, callbacks: Work | Iterable = (),
                  cancel: CancelToken | None = None, seconds: float = 1.0) -> float:
    """Images per second in evaluation mode at the model's own input size, on the GPU when
    there is one: a warm-up pass, then passes for about `seconds`."""
    import torch

    task = Work.of(callbacks, cancel)
    built, size, title = network(model_id)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    task.progress(0, 0, f"timing {title}")
    net = built.eval().to(device)
    images = torch.randn(BATCH, 3, size, size, device=device)
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
    data[model_id] = {"images_per_s": float(f"{rate:.4g}"), "device": device.type,
                      "batch": BATCH}
    speed_file().parent.mkdir(parents=True, exist_ok=True)
    write_json(speed_file(), data)
    return rate
