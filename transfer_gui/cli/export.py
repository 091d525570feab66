"""`transfer-gui export RUN`: the run's model as a file (ONNX, int8 ONNX, torch.export,
TorchScript) or a web page, checked against the run before it is kept."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .exits import EXIT_OK


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a run as an ONNX (float or int8), ORT, torch.export or "
                       "TorchScript file, or a web page",
        description="Export RUN's model, check it against the run on its validation images "
                    "and write NAME.labels.json and NAME.preprocess.json beside it.")
    p.add_argument("run")
    p.add_argument("--format", metavar="FORMAT",
                   help="onnx, onnx-int8, ort (ONNX Runtime's mobile format), torch-export, "
                        "torchscript, or web (a folder: index.html classifies images in the "
                        "browser with onnxruntime-web) (default: from the --out ending "
                        ".int8.onnx, .onnx, .ort, .pt2, .pt or -web; else onnx)")
    p.add_argument("--out", help="file to write (default: RUN/export/model.onnx, "
                                 ".int8.onnx, .ort, .pt2 or .pt; the folder model-web)")
    p.add_argument("--ort-web", metavar="DIR",
                   help="with --format web: the folder holding onnxruntime-web (its dist "
                        "folder, or where `npm install --prefix DIR onnxruntime-web` put it), "
                        "copied beside the page so that it works offline (default: "
                        "$TRANSFER_GUI_ORT_WEB, then ~/.cache/transfer_gui/ort-web; without "
                        "one, the page loads the runtime from its CDN and needs a network)")
    p.add_argument("--json", action="store_true",
                   help="the written file, its size and the check's result as JSON")
    p.add_argument("--benchmark", action="store_true",
                   help="write nothing: measure every format (size, latency per image at "
                        "batch 1 and 32 on this CPU, accuracy, top-1 agreement with the run)")
    p.add_argument("--data", metavar="DIR",
                   help="with --benchmark: measure on DIR's images in class sub-folders "
                        "instead of the run's validation images")


def cmd_export(args: argparse.Namespace) -> int:
    from ..core import default_export_path, export_format_for, export_run

    if args.benchmark:
        return _benchmark(args)

    fmt = args.format or export_format_for(args.out)
    out = args.out or default_export_path(args.run, fmt)
    result = export_run(args.run, out, fmt, args.ort_web)
    if args.json:
        from .console import print_json

        print_json({"run": str(args.run), "format": result.format, "path": str(result.path),
                    "bytes": result.size, "max_diff": result.max_diff,
                    "tolerance": result.tolerance, "checked_images": result.images,
                    "outputs": list(result.outputs),
                    "sidecars": [str(p) for p in result.sidecars], **int8_fields(result)})
        return EXIT_OK
    print(f"exported {args.run} to {result.path} ({result.format})")
    print(f"  input: {result.input_text()}")
    print(f"  {'check' if result.check else 'parity'}: {result.summary()}")
    print(f"  beside it: {', '.join(p.name for p in result.sidecars)}")
    if result.warning:
        print(f"warning: {result.warning}", file=sys.stderr)
    return EXIT_OK


def int8_fields(result: Any) -> dict[str, Any]:
    """An int8 export's method, calibration and check, for --json ({} for the others)."""
    check = result.check
    if check is None:
        return {}
    return {"method": result.method, "calibration_images": result.calibration,
            "agreement": check.agreement, "accuracy": check.accuracy,
            "run_accuracy": check.run_accuracy, "warning": result.warning or None}


def _benchmark(args: argparse.Namespace) -> int:
    from ..core import FILE_FORMATS, UserError, benchmark_exports
    from .console import ConsoleReporter, print_json, table

    if args.format == "web":
        raise UserError("the benchmark measures model files; the web page runs the onnx "
                        "format's file (measure --format onnx)")
    formats = (args.format,) if args.format else FILE_FORMATS
    rows = benchmark_exports(args.run, args.data, formats,
                             callbacks=[] if args.json else [ConsoleReporter()])
    if args.json:
        print_json([r.to_dict() for r in rows])
        return EXIT_OK
    base = next((r.size for r in rows if r.format == "onnx"), rows[0].size)
    table([bench_cells(r, base) for r in rows],
          ["format", "size", "vs onnx", "ms/image b1", "ms/image b32", "accuracy",
           "agreement"])
    print(f"on {rows[0].images} {'images of ' + args.data if args.data else 'validation images'}"
          "; latency on this machine's CPU")
    for r in rows:
        if r.note:
            print(f"warning: {r.format}: {r.note}", file=sys.stderr)
    return EXIT_OK


def bench_cells(r: Any, base: int) -> list[str]:
    """One row of the benchmark table in words; sizes as a ratio to `base` (the float ONNX
    file's)."""
    ratio = f"{r.size / base:.2f}x" if base else ""
    accuracy = "" if r.accuracy is None else f"{r.accuracy:.1%}"
    return [r.format, f"{r.size / 2**20:.2f} MiB", ratio, f"{r.ms_batch1:.1f}",
            f"{r.ms_batch32:.1f}", accuracy, f"{r.agreement:.1%}"]
