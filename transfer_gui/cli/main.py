"""Command line: `transfer-gui <command> ...`; with no command, the desktop application.

Heavy imports (torch, torchvision) happen inside the commands, so `--help` is instant and the
GUI can show its window before torch loads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..core import count
from .exits import EXIT_CANCELLED, EXIT_ERROR, EXIT_OK, for_run
from .export import add_export_parser, cmd_export
from .inspect import add_inspect_parser, cmd_inspect
from .launch import add_launch_parser, cmd_launch
from .options import (
    UsageError,
    add_recipe_args,
    add_run_setting,
    add_tensorboard_arg,
    add_transfer_args,
    interruptible,
    tensorboard_dir,
    train_config,
)
from .runconfig import saved_config, with_review
from .serve import add_serve_parser, cmd_serve
from .strategies import add_strategy_parsers, cmd_compare, cmd_lr_find
from .zoo import add_backbones_parser, cmd_backbones

if TYPE_CHECKING:
    from ..core import Prediction

def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a classifier on an image folder",
                       description="Train a classifier on DATA (one sub-folder per class, or "
                                   "train/ with val/ and/or test/ sub-trees: test/ is never "
                                   "trained on) and write the run folder RUN.")
    p.add_argument("data", nargs="?", help="image folder or labels CSV (not needed with "
                                           "--resume; with --config, replaces the "
                                           "configuration's folder)")
    p.add_argument("--out", help="run folder to write")
    p.add_argument("--resume", metavar="RUN", help="continue a stopped or killed run")
    p.add_argument("--config", metavar="RUN_CONFIG",
                   help="train exactly this saved configuration: a file the window exported "
                        "(File > Export run configuration), a run folder or its run.json")
    add_recipe_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--json", action="store_true", help="one JSON object per epoch")
    add_tensorboard_arg(p)
    add_transfer_args(p)
    p.add_argument("--review", metavar="FILE",
                   help="leave out or relabel the images a review marked: a project file, or "
                        "the label-issues CSV of `inspect` with its 'action' column filled in")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="transfer-gui",
        description="Transfer learning on images. With no command, opens the application "
                    "(`transfer-gui PROJECT.tgproj` or `transfer-gui FOLDER`: with it open).",
    )
    parser.add_argument("--version", action="version", version=f"transfer-gui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("gui", help="open the application (the default)")
    p.add_argument("project", nargs="?", help="a project file or image folder to open")
    add_backbones_parser(sub)
    p = sub.add_parser("check-data", help="scan an image folder or labels CSV and report "
                       "problems")
    p.add_argument("data", help="image folder, labels CSV, or a folder holding labels.csv")
    p.add_argument("--val", metavar="DIR")
    p.add_argument("--task", metavar="COLUMN", help="with a labels CSV: only this column")
    p.add_argument("--json", action="store_true")
    _add_train(sub)
    add_strategy_parsers(sub)
    add_launch_parser(sub)
    add_inspect_parser(sub)
    p = sub.add_parser("evaluate", help="accuracy, per-class scores and confusion matrix",
                       description="Evaluate RUN on DATA. A folder with train/ and test/ "
                                   "sub-folders is scored on its test/ part. Without DATA, or "
                                   "with the folder the run was trained on, the run's "
                                   "validation split is used.")
    p.add_argument("run")
    p.add_argument("data", nargs="?")
    p.add_argument("--all", action="store_true",
                   help="every image of DATA, not its test/ part or the val split")
    add_run_setting(p, "batch_size", metavar="N", help="images per step (default %(default)s)")
    add_run_setting(p, "device")
    p.add_argument("--json", action="store_true")
    p.add_argument("--report", metavar="FILE",
                   help="also write the headline, per-class table and confusion matrix to "
                        "FILE: .html for one self-contained page (the matrix as an image), "
                        ".csv for the table with each class's row of the matrix")
    p = sub.add_parser("predict", help="classify images",
                       description="predict RUN IMAGE_OR_DIR... or predict --backbone NAME "
                                   "IMAGE... (the network's own ImageNet classes). An image "
                                   "in a folder named like one of the model's classes is "
                                   "marked right or wrong, and the accuracy on those is "
                                   "given.")
    p.add_argument("inputs", nargs="+", metavar="RUN_OR_IMAGE")
    p.add_argument("--backbone", help="use this pretrained network's ImageNet head")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--csv", metavar="FILE",
                   help="also write the predictions as CSV (with true_class and correct for "
                        "images in folders named like the model's classes)")
    p.add_argument("--uncertain-below", type=float, default=50, metavar="PERCENT",
                   help="flag results whose top class is under this probability "
                        "(default %(default)s)")
    add_run_setting(p, "device")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("cache", help="show or clear the feature and image cache")
    p.add_argument("--clear", action="store_true",
                   help="delete the cached features and decoded-image spill files")
    p.add_argument("--json", action="store_true")
    add_export_parser(sub)
    add_serve_parser(sub)
    return parser


def cmd_check_data(args: argparse.Namespace) -> int:
    from ..core import scan_data
    from .console import ConsoleReporter, print_json, table
    from .tasks import print_scan_tasks, task_rows

    scan = scan_data(args.data, verify=True, val_dir=args.val,
                     callbacks=[ConsoleReporter(as_json=args.json)], task=args.task)
    counts = scan.counts()
    total = max(sum(counts), 1)
    if args.json:
        print_json({
            "root": scan.root, "layout": scan.layout, "layout_text": scan.layout_text(),
            "test_folder": scan.test_dir or None, "test_images": scan.test_images,
            "images": sum(counts),
            "classes": [{"name": n, "count": c} for n, c in zip(scan.classes, counts, strict=True)],
            **({"tasks": task_rows(scan)} if scan.tasks else {}),
            "problems": _problem_rows(scan.problems),
        })
        return EXIT_OK
    print(f"{scan.root}: {scan.summary()}")
    print(f"layout: {scan.layout_text()}\n")
    if scan.tasks:
        print_scan_tasks(scan)
    else:
        table([[n, c, f"{100 * c / total:.1f} %"]
               for n, c in zip(scan.classes, counts, strict=True)], ["class", "images", "share"])
    _print_problems(scan.problems)
    return EXIT_OK


def _problem_rows(problems: list) -> list[dict[str, str]]:
    return [{"path": p.path, "reason": p.reason, "severity": p.severity} for p in problems]


def _print_problems(problems: list) -> None:
    if problems:
        print(f"\n{count(len(problems), 'problem')}:")
        for p in problems:
            print(f"  {p.severity:7}  {p.path}: {p.reason}")


def cmd_train(args: argparse.Namespace) -> int:
    from ..core import Ranks, Trainer, clear_folder
    from .console import ConsoleReporter

    ranks = Ranks.from_env()  # started by torchrun: one of several processes

    if args.resume:
        if args.config:
            raise UsageError("--resume continues a run with its own configuration: "
                             "leave out --config")
        config, out = None, args.resume
    elif args.config and args.out:
        config, out = saved_config(args, vars(build_parser().parse_args(["train"]))), args.out
    elif not args.data or not args.out:
        raise UsageError("train needs DATA and --out RUN (or --config RUN_CONFIG --out RUN, "
                         "or --resume RUN)")
    else:
        config, out = with_review(train_config(args), args.review), args.out
    logs = tensorboard_dir(args, out)
    if config is not None and args.overwrite and Path(out).is_dir() and ranks.main:
        clear_folder(out)  # refused while another process writes it
    speaks = [ConsoleReporter(as_json=args.json)] if ranks.main else []
    result = Trainer().fit(config, out, speaks, cancel=interruptible(ranks.main),
                           resume=bool(args.resume), tensorboard=logs, ranks=ranks)
    return for_run(result.status)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..core import evaluate_run, report_format, write_report
    from .console import ConsoleReporter, print_json
    from .tasks import print_result, print_tasks

    if args.report:
        report_format(args.report)  # a wrong suffix is said before the evaluation, not after
    evaluation = evaluate_run(args.run, args.data, args.batch_size, args.device,
                              [ConsoleReporter(as_json=args.json)], use_all=args.all)
    result = evaluation.result
    written = write_report(evaluation, args.report, args.run) if args.report else ""
    if args.json:
        print_json({**result.to_dict(), "source": evaluation.source,
                    **({"tasks": evaluation.tasks_dict()} if evaluation.tasks else {}),
                    "problems": _problem_rows(evaluation.problems),
                    **({"report": written} if written else {})})
        return EXIT_OK
    print(f"evaluated on {evaluation.source}")
    if evaluation.tasks:
        print_tasks(evaluation.tasks_dict())
    else:
        print_result(result)
    _print_problems(evaluation.problems)
    if written:
        print(f"\nreport written to {written}")
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    from ..core import Predictor, expand_inputs, write_csv
    from .console import print_json

    if args.backbone:
        predictor = Predictor.imagenet(args.backbone, args.device)
        inputs = args.inputs
    else:
        if len(args.inputs) < 2:
            raise UsageError("predict needs RUN and at least one image or folder "
                             "(or --backbone NAME and images)")
        predictor = Predictor.from_run(args.inputs[0], args.device)
        inputs = args.inputs[1:]
    if not 0 < args.uncertain_below < 100:
        raise UsageError("--uncertain-below takes a percentage between 0 and 100")
    threshold = args.uncertain_below / 100
    predictions = predictor.predict_paths(expand_inputs(inputs, interleave=False),
                                          top_k=args.top_k)
    if args.csv:
        write_csv(args.csv, predictions, args.top_k, threshold)
    if args.json:
        print_json([p.to_dict(threshold) for p in predictions])
    else:
        for p in predictions:
            print(prediction_line(p, threshold))
        print(predictions_summary(predictions, threshold))
    return EXIT_OK if all(p.error is None for p in predictions) else EXIT_ERROR


def prediction_line(p: Prediction, threshold: float) -> str:
    """`path: top-k`, then the flags: uncertain, right or wrong against the folder's class."""
    from ..core import is_uncertain

    shown = p.error or ", ".join(f"{label} {prob:.1%}" for label, prob in p.top_k)
    flags = ["uncertain"] if is_uncertain(p.top_k, threshold) else []
    if p.correct is not None:
        flags.append("right" if p.correct else f"wrong: the folder says {p.truth}")
    if p.tasks:
        from ..core import answers_line

        shown = p.error or answers_line(p.tasks)
    return f"{p.path}: {shown}" + (f"  [{'; '.join(flags)}]" if flags else "")


def predictions_summary(predictions: list[Prediction], threshold: float) -> str:
    """One line: how many, how many unreadable or uncertain, the accuracy on labelled files."""
    from ..core import is_uncertain, labelled_score

    parts = [count(len(predictions), "image")]
    errors = sum(p.error is not None for p in predictions)
    if errors:
        parts.append(f"{errors} could not be read")
    uncertain = sum(is_uncertain(p.top_k, threshold) for p in predictions)
    parts.append(f"{uncertain} uncertain (top class under {threshold:.0%})")
    score = labelled_score([p.label for p in predictions], [p.truth for p in predictions])
    if score is not None:
        parts.append(score.text())
    return " · ".join(parts)


def cmd_cache(args: argparse.Namespace) -> int:
    from ..core import cache_root, cache_usage, clear_cache
    from .console import print_json

    root = cache_root()
    freed = clear_cache(root) if args.clear else 0
    usage = cache_usage(root)
    if args.json:
        print_json({"folder": str(root), "bytes": usage, "freed": freed})
        return EXIT_OK
    print(f"cache folder: {root}")
    for part, size in usage.items():
        print(f"  {part:10} {size / 2**20:9.1f} MiB")
    if args.clear:
        print(f"cleared {freed / 2**20:.1f} MiB of cached features and decoded images")
    return EXIT_OK


def cmd_gui(args: argparse.Namespace) -> int:
    from ..ui.app import main as gui_main

    return gui_main(getattr(args, "project", None))


COMMANDS = {
    "backbones": cmd_backbones, "check-data": cmd_check_data, "train": cmd_train,
    "evaluate": cmd_evaluate, "predict": cmd_predict, "export": cmd_export, "gui": cmd_gui,
    "cache": cmd_cache, "lr-find": cmd_lr_find, "compare": cmd_compare, "launch": cmd_launch,
    "inspect": cmd_inspect, "serve": cmd_serve,
}


def _safe_streams() -> None:
    """Never crash on printing a file name the terminal cannot encode (emoji on a legacy
    code page, names that are not UTF-8): such characters are written as escapes."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def opens_bare(argv: Sequence[str]) -> list[str]:
    """`transfer-gui PROJECT.tgproj` or `transfer-gui FOLDER` (what a file manager runs for an
    opened project) means `transfer-gui gui ...`; a command name always stays a command."""
    argv = list(argv)
    if argv and argv[0] not in COMMANDS and _openable(argv[0]):
        return ["gui", *argv]
    return argv


def _openable(arg: str) -> bool:
    from ..core import SUFFIX

    path = Path(arg)
    return path.is_dir() or (path.suffix.lower() == SUFFIX and path.is_file())


def main(argv: Sequence[str] | None = None) -> int:
    _safe_streams()
    parser = build_parser()
    args = parser.parse_args(opens_bare(sys.argv[1:] if argv is None else argv))
    command = COMMANDS[args.command or "gui"]
    try:
        return command(args)
    except UsageError as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as exc:  # noqa: BLE001 - _report re-raises what it does not know
        return _report(exc)
    return EXIT_OK


def _report(exc: Exception) -> int:
    """One line for the errors a user can act on (and for a stop); anything else is a bug
    and keeps its traceback."""
    from ..core import Cancelled

    if isinstance(exc, Cancelled):
        print("stopped", file=sys.stderr)
        return EXIT_CANCELLED
    if not _known(exc):
        raise exc
    print(f"error: {exc}", file=sys.stderr)
    return EXIT_ERROR


def _known(exc: Exception) -> bool:
    from ..core import USER_ERRORS

    return isinstance(exc, USER_ERRORS)
