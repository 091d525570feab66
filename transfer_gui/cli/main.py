"""Command line: `transfer-gui <command> ...`; with no command, the desktop application.

Heavy imports (torch, torchvision) happen inside the commands, so `--help` is instant and the
GUI can show its window before torch loads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import __version__
from ..core import count
from .exits import EXIT_CANCELLED, EXIT_ERROR, EXIT_OK, EXIT_PIPE, for_run
from .export import add_export_parser, cmd_export
from .inspect import add_inspect_parser, cmd_inspect
from .launch import LAUNCHER, add_launch_parser, cmd_launch, launcher
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
from .predict import add_predict_parser, cmd_predict
from .runconfig import saved_config, with_review
from .serve import add_serve_parser, cmd_serve
from .strategies import add_strategy_parsers, cmd_compare, cmd_lr_find
from .suggest import add_suggest_parser, cmd_suggest
from .zoo import add_backbones_parser, cmd_backbones


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
    p.add_argument("--continue", dest="continue_run", action="store_true",
                   help="with --config and --out: continue RUN if it already holds a run, "
                        "else start it (what launch scripts pass: every process decides "
                        "alike as it starts)")
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
    add_run_setting(p, "image_root", "DataConfig")
    p.add_argument("--json", action="store_true")
    _add_train(sub)
    add_strategy_parsers(sub)
    add_launch_parser(sub)
    add_inspect_parser(sub)
    add_suggest_parser(sub)
    p = sub.add_parser("evaluate", help="accuracy, per-class scores and confusion matrix",
                       description="Evaluate RUN on DATA. A folder with train/ and test/ "
                                   "sub-folders is scored on its test/ part. Without DATA, or "
                                   "with the folder the run was trained on, the run's "
                                   "validation split is used.")
    p.add_argument("run")
    p.add_argument("data", nargs="?")
    p.add_argument("--all", action="store_true",
                   help="every image of DATA, not its test/ part or the val split")
    add_run_setting(p, "image_root", "DataConfig")
    add_run_setting(p, "batch_size", metavar="N", help="images per step (default %(default)s)")
    add_run_setting(p, "device")
    p.add_argument("--json", action="store_true")
    p.add_argument("--report", metavar="FILE",
                   help="also write the headline, per-class table and confusion matrix to "
                        "FILE: .html for one self-contained page (the matrix as an image), "
                        ".csv for the table with each class's row of the matrix")
    add_predict_parser(sub)
    p = sub.add_parser("cache", help="show or clear the feature and image cache")
    p.add_argument("--clear", action="store_true",
                   help="delete the cached features and decoded-image spill files")
    p.add_argument("--json", action="store_true")
    add_export_parser(sub)
    add_serve_parser(sub)
    return parser


def cmd_check_data(args: argparse.Namespace) -> int:
    """The scan's report; exits with an error when `train` would refuse the data."""
    from ..core import scan_data, untrainable
    from .console import ConsoleReporter, print_json, table
    from .tasks import print_scan_tasks, task_rows

    scan = scan_data(args.data, verify=True, val_dir=args.val,
                     callbacks=[ConsoleReporter(as_json=args.json)], task=args.task,
                     image_root=args.image_root)
    counts = scan.counts()
    total = max(sum(counts), 1)
    refused = untrainable(scan)
    status = EXIT_ERROR if refused else EXIT_OK
    if args.json:
        print_json({
            "root": scan.root, "layout": scan.layout, "layout_text": scan.layout_text(),
            "test_folder": scan.test_dir or None, "test_images": scan.test_images,
            "images": sum(counts),
            "classes": [{"name": n, "count": c} for n, c in zip(scan.classes, counts, strict=True)],
            **({"tasks": task_rows(scan)} if scan.tasks else {}),
            "problems": _problem_rows(scan.problems),
            "trainable": refused is None, **({"cannot_train": refused} if refused else {}),
        })
        return status
    print(f"{scan.root}: {scan.summary()}")
    print(f"layout: {scan.layout_text()}\n")
    if scan.tasks:
        print_scan_tasks(scan)
    else:
        table([[n, c, f"{100 * c / total:.1f} %"]
               for n, c in zip(scan.classes, counts, strict=True)], ["class", "images", "share"])
    _print_problems(scan.problems)
    if refused:
        print(f"\ncannot train: {refused}")
    return status


def _problem_rows(problems: list) -> list[dict[str, str]]:
    return [{"path": p.path, "reason": p.reason, "severity": p.severity} for p in problems]


def _print_problems(problems: list) -> None:
    if problems:
        print(f"\n{count(len(problems), 'problem')}:")
        for p in problems:
            print(f"  {p.severity:7}  {p.path}: {p.reason}")


def _check_train_args(args: argparse.Namespace) -> None:
    """The combinations of `train`'s arguments that make no sense, said before torch loads."""
    if args.resume and args.config:
        raise UsageError("--resume continues a run with its own configuration: leave out "
                         "--config")
    if not args.resume and not args.out:
        raise UsageError("train needs DATA and --out RUN (or --config RUN_CONFIG --out RUN, "
                         "or --resume RUN)")
    if not args.resume and not args.config and not args.data:
        raise UsageError("train needs DATA and --out RUN (or --config RUN_CONFIG --out RUN, "
                         "or --resume RUN)")
    if args.continue_run and not args.config:
        raise UsageError("--continue goes with --config RUN_CONFIG --out RUN")


def cmd_train(args: argparse.Namespace) -> int:
    _check_train_args(args)  # first: a usage error costs no torch import
    from ..core import Ranks, Trainer, clear_folder
    from .console import ConsoleReporter

    ranks = Ranks.from_env()  # started by torchrun: one of several processes
    # decided as each process starts: before any process of a launch can write the folder
    resume = args.resume or (args.continue_run and (Path(args.out) / "run.json").is_file()
                             and args.out)
    if resume:
        config, out = None, resume
    elif args.config:
        config, out = saved_config(args, vars(build_parser().parse_args(["train"]))), args.out
    else:
        config, out = with_review(train_config(args), args.review), args.out
    logs = tensorboard_dir(args, out)
    if config is not None and args.overwrite and Path(out).is_dir() and ranks.main:
        clear_folder(out)  # refused while another process writes it
    speaks = [ConsoleReporter(as_json=args.json)] if ranks.main else []
    result = Trainer().fit(config, out, speaks, cancel=interruptible(ranks.main),
                           resume=bool(resume), tensorboard=logs, ranks=ranks)
    return for_run(result.status)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..core import evaluate_run, report_format, write_report
    from .console import ConsoleReporter, print_json
    from .tasks import print_result, print_tasks

    if args.report:
        report_format(args.report)  # a wrong suffix is said before the evaluation, not after
    evaluation = evaluate_run(args.run, args.data, args.batch_size, args.device,
                              [ConsoleReporter(as_json=args.json)], use_all=args.all,
                              image_root=args.image_root)
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
    "inspect": cmd_inspect, "suggest": cmd_suggest, "serve": cmd_serve,
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
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [LAUNCHER]:
        return launcher(argv[1:])
    parser = build_parser()
    args = parser.parse_args(opens_bare(argv))
    command = COMMANDS[args.command or "gui"]
    try:
        return command(args)
    except UsageError as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:  # `transfer-gui backbones | head`: the reader has had enough
        return _pipe_closed()
    except Exception as exc:  # noqa: BLE001 - _report re-raises what it does not know
        return _report(exc)
    return EXIT_OK


def _pipe_closed() -> int:
    """End quietly when the reader of the output went away: what is still buffered goes
    nowhere (else Python complains again at exit), and the status is a pipe's (128 + 13)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_PIPE


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
