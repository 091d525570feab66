"""`transfer-gui suggest POOL`: which images of an unlabelled pool to label next."""

from __future__ import annotations

import argparse

from .exits import EXIT_OK


def add_suggest_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "suggest", help="the images of a folder to label next, with the probe's suggestion",
        description="Compute the pretrained backbone's features of every image under POOL "
                    "(cached), fit a linear probe on the labels so far and print the next "
                    "unlabelled images to label, most useful first (paths relative to POOL), "
                    "with the probe's suggested class and its probability. Works from no "
                    "labels at all; never names an image that has a label.")
    p.add_argument("pool", help="the folder of images")
    p.add_argument("--labels", metavar="CSV",
                   help="the labels file (default POOL/labels.csv; missing: no labels yet)")
    p.add_argument("--count", type=int, default=10, help="how many images (default 10)")
    from ..core import SUGGEST_STRATEGIES

    p.add_argument("--strategy", choices=SUGGEST_STRATEGIES, default="auto",
                   help="how to choose them (default auto: typical and diverse images while "
                        "labels are few, then the least certain, diverse among them)")
    p.add_argument("--backbone", default="efficientnet_lite0",
                   help="the network whose features are used (default %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true",
                   help="a JSON list of objects: file, suggestion, confidence")


def cmd_suggest(args: argparse.Namespace) -> int:
    from ..core import LabelPool, pool_features, suggest
    from .console import ConsoleReporter, print_json, table
    from .options import interruptible

    if args.count < 1:
        raise SystemExit("suggest: --count must be at least 1")
    pool = LabelPool.open(args.pool, args.labels)
    reporter = ConsoleReporter(as_json=args.json)
    feats = pool_features(pool, args.backbone, args.device, callbacks=[reporter],
                          cancel=interruptible())
    result = suggest(feats, pool.labels, args.count, args.strategy, args.seed)
    rows = [result.by_file[f] for f in result.next]
    if args.json:
        print_json([{"file": s.file, "suggestion": s.label,
                     "confidence": round(s.confidence, 4)} for s in rows])
        return EXIT_OK
    score = result.cv_accuracy
    print(f"{len(pool.files)} images, {result.labelled} labelled in {len(result.classes)} "
          f"classes; cross-validated accuracy of the labels so far: "
          f"{'n/a' if score is None else f'{100 * score:.1f} %'}")
    table([[s.file, s.label or "", f"{s.confidence:.2f}" if s.label else ""] for s in rows],
          ["file", "suggestion", "confidence"])
    return EXIT_OK
