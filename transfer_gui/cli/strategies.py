"""`transfer-gui lr-find` and `transfer-gui compare`: choosing a learning rate and a strategy
by measuring them on the user's own data."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core import SWEEP_END, SWEEP_START, SWEEP_STEPS
from .exits import EXIT_CANCELLED, EXIT_OK, for_run

DEFAULT_STRATEGIES = "linear-probe,fine-tune,scratch"


def add_strategy_parsers(sub: argparse._SubParsersAction) -> None:
    from .options import add_recipe_args, add_tensorboard_arg

    p = sub.add_parser("lr-find", help="suggest a learning rate (range test)",
                       description="Train briefly on DATA while the learning rate rises from "
                                   "--start to --end, and suggest the rate where the loss "
                                   "falls fastest. Nothing is saved.")
    p.add_argument("data")
    add_recipe_args(p)
    p.add_argument("--steps", type=int, default=SWEEP_STEPS,
                   help=f"steps of the sweep (default {SWEEP_STEPS})")
    p.add_argument("--start", type=float, default=SWEEP_START,
                   help=f"the first rate (default {SWEEP_START:g})")
    p.add_argument("--end", type=float, default=SWEEP_END,
                   help=f"the last rate (default {SWEEP_END:g})")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("compare", help="train several strategies on one split and compare",
                       description="Train each strategy on the same split of DATA with the "
                                   "same epochs and batch size, then compare them. With --runs, "
                                   "compare existing run folders instead.")
    p.add_argument("data", nargs="?")
    p.add_argument("--strategies", default=DEFAULT_STRATEGIES,
                   help=f"comma-separated (default {DEFAULT_STRATEGIES})")
    p.add_argument("--out", help="folder for the runs (one sub-folder per strategy)")
    p.add_argument("--runs", nargs="+", metavar="RUN", help="compare these run folders")
    add_recipe_args(p)
    add_tensorboard_arg(p)
    p.add_argument("--json", action="store_true")


def cmd_lr_find(args: argparse.Namespace) -> int:
    from ..core import count, lr_find
    from .console import ConsoleReporter, print_json, table
    from .options import interruptible, train_config

    result = lr_find(train_config(args), [ConsoleReporter(as_json=args.json)], interruptible(),
                     start=args.start, end=args.end, steps=args.steps)
    done = EXIT_CANCELLED if result.stopped else EXIT_OK
    if args.json:
        print_json(result.to_dict())
        return done
    if result.stopped:
        print(f"stopped after {count(result.steps, 'step')}")
    every = max(1, len(result.lrs) // 12)
    table([[f"{lr:.2e}", f"{loss:.4f}"] for lr, loss in
           zip(result.lrs[::every], result.smoothed[::every], strict=True)],
          ["learning rate", "loss (smoothed)"])
    if result.suggestion is None:
        print(f"\nno suggestion: {result.reason}")
    else:
        print(f"\nsuggested learning rate: {result.suggestion:.2e} ({result.reason})")
        print(f"train with: --lr {result.suggestion:.2g}")
    return done


def cmd_compare(args: argparse.Namespace) -> int:
    from ..core import compare_strategies, run_summary
    from .console import ConsoleReporter, print_json
    from .options import UsageError, interruptible, tensorboard_dir, train_config

    if args.runs:
        rows = [run_summary(run) for run in args.runs]
    elif args.data and args.out:
        strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
        logs = tensorboard_dir(args, args.out)  # DIR/<out>/<strategy>, like the run folders
        rows = compare_strategies(train_config(args), strategies, Path(args.out),
                                  [ConsoleReporter(as_json=args.json)], interruptible(),
                                  tensorboard=logs)
    else:
        raise UsageError("compare needs DATA and --out DIR (or --runs RUN...)")
    if args.json:
        print_json([{k: v for k, v in r.items() if k != "history"} for r in rows])
    else:
        print_comparison(rows)
    cancelled = any(r.get("status") == "cancelled" for r in rows)
    return for_run("cancelled" if cancelled else "completed")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def print_comparison(rows: list[dict]) -> None:
    """The rows as a table; a fine-tune that kept its probe says so by its accuracy (the
    probe's, not fine-tuning's)."""
    from ..core import with_mark
    from .console import table

    print()
    table([[r["name"], r["strategy"], r["backbone"], r["status"],
            with_mark(_pct(r.get("accuracy")), r),
            f"{r['macro_f1']:.3f}" if r.get("macro_f1") is not None else "-",
            f"{r['min_f1']:.3f}" if r.get("min_f1") is not None else "-",
            f"{r['seconds']:.1f} s" if r.get("seconds") is not None else "-",
            f"{r['trainable_params']:,}" if r.get("trainable_params") is not None else "-"]
           for r in rows],
          ["run", "strategy", "backbone", "status", "val acc", "macro F1", "worst F1", "time",
           "trainable"])
