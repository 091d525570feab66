"""`transfer-gui predict`: classify images with a trained run, or with a pretrained network's
own ImageNet head; one line per image (or JSON, or a CSV file) and a summary."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..core import count
from .exits import EXIT_ERROR, EXIT_OK
from .options import UsageError, add_run_setting

if TYPE_CHECKING:
    from ..core import Prediction


def add_predict_parser(sub: argparse._SubParsersAction) -> None:
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
    if args.json:
        print_json([p.to_dict(threshold) for p in predictions])
    else:
        for p in predictions:
            print(prediction_line(p, threshold))
        print(predictions_summary(predictions, threshold))
    if args.csv:  # after the results are shown: a file that cannot be written loses nothing
        rows = write_csv(args.csv, predictions, args.top_k, threshold)
        print(f"wrote {count(rows, 'prediction')} to {args.csv}",
              file=sys.stderr if args.json else sys.stdout)
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
