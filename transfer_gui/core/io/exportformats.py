"""The export formats: how each one is written and how a written file is loaded back to run.

Every writer takes the wrapped model (normalisation inside), an example batch, the file to
write and the metadata (`info`: strings); every loader gives a function from a [0, 1] image
batch to logits, both as torch tensors.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..wording import require_packages

Runner = Callable[[torch.Tensor], Any]  # logits, or a run of several tasks' by name
INPUT, OUTPUT = "images", "logits"
EXTRA = "transfer_gui.json"  # the metadata inside a TorchScript or torch.export archive
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")


def require_onnx() -> None:
    """A clear `UserError` when a package the ONNX export needs is not installed."""
    require_packages(ONNX_PACKAGES, "onnx", "exporting to ONNX needs")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    # Tracing warns about shape-dependent Python ints (fine: the export has a fixed input
    # size), TorchScript announces its deprecation on every call, and the exporters warn
    # about their own internals.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _dynamic_batch() -> tuple[dict[int, torch.export.Dim]]:
    return ({0: torch.export.Dim("batch", min=1, max=4096)},)


def write_torchscript(model: nn.Module, example: torch.Tensor, path: Path,
                      info: dict[str, str], outputs: Sequence[str] = (OUTPUT,)) -> None:
    with torch.no_grad():  # not strict: several tasks' outputs come as a dict
        traced = torch.jit.trace(model, example, check_trace=False, strict=len(outputs) == 1)
    torch.jit.save(traced, str(path), _extra_files={EXTRA: json.dumps(info)})


def write_torch_export(model: nn.Module, example: torch.Tensor, path: Path,
                       info: dict[str, str], outputs: Sequence[str] = (OUTPUT,)) -> None:
    program = torch.export.export(model, (example,), dynamic_shapes=_dynamic_batch())
    # through an open file: given a name, torch.export insists that it end in .pt2
    with open(path, "wb") as handle:
        torch.export.save(program, handle, extra_files={EXTRA: json.dumps(info)})


def write_onnx(model: nn.Module, example: torch.Tensor, path: Path,
               info: dict[str, str], outputs: Sequence[str] = (OUTPUT,)) -> None:
    program = torch.onnx.export(model, (example,), dynamo=True, dynamic_shapes=_dynamic_batch(),
                                input_names=[INPUT], output_names=list(outputs), verbose=False)
    if program is None:  # only the older exporter (dynamo=False) writes a file itself
        raise RuntimeError("the ONNX exporter returned no program")
    program.model.metadata_props.update(info)
    program.save(str(path), external_data=False)


def write_ort(model: nn.Module, example: torch.Tensor, path: Path,
              info: dict[str, str], outputs: Sequence[str] = (OUTPUT,)) -> None:
    """ONNX Runtime's mobile format: the ONNX export, optimised with the hardware-independent
    (basic) graph optimisations and saved by onnxruntime itself as a flatbuffer."""
    import tempfile

    import onnxruntime

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "model.onnx"
        write_onnx(model, example, source, info, outputs)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(path)
        options.add_session_config_entry("session.save_model_format", "ORT")
        onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def load_torchscript(path: Path) -> Runner:
    return torch.jit.load(str(path), map_location="cpu")


def load_torch_export(path: Path) -> Runner:
    with open(path, "rb") as handle:
        return torch.export.load(handle).module()


def load_onnx(path: Path, model_format: str = "ONNX") -> Runner:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.load_model_format", model_format)
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])

    names = [o.name for o in session.get_outputs()]

    def run(x: torch.Tensor) -> Any:
        got = session.run(names, {INPUT: x.numpy()})
        if names == [OUTPUT]:
            return torch.from_numpy(got[0])
        return {n: torch.from_numpy(v) for n, v in zip(names, got, strict=True)}

    return run


def load_ort(path: Path) -> Runner:
    return load_onnx(path, "ORT")


WRITERS = {"onnx": write_onnx, "ort": write_ort, "torch-export": write_torch_export,
           "torchscript": write_torchscript}
LOADERS = {"onnx": load_onnx, "onnx-int8": load_onnx, "ort": load_ort,
           "torch-export": load_torch_export, "torchscript": load_torchscript}
