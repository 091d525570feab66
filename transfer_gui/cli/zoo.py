"""`transfer-gui backbones`: the whole model zoo (curated, torchvision, timm), read from its
cache on disk, so it answers without importing torch."""

from __future__ import annotations

import argparse
import sys

from ..core import PRETRAINING_TEXT, count, load_catalog, search_zoo, weights_statuses
from .exits import EXIT_OK


def add_backbones_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backbones", help="list the pretrained networks (torchvision and timm)",
                       description="List every backbone the app can train: the curated ones "
                                   "first, then torchvision's classifiers and timm's "
                                   "pretrained models, with where their weights are.")
    p.add_argument("--json", action="store_true", help="every model, with its source")
    p.add_argument("--search", metavar="TEXT",
                   help="only models whose name, family, pretraining or source hold every "
                        "word of TEXT (e.g. 'dinov2', 'convnext in22k')")
    p.add_argument("--rebuild", action="store_true",
                   help="read the list again from the installed torchvision and timm "
                        "(minutes)")


def _progress(done: int, total: int, what: str) -> None:
    if done % 100 == 0:
        print(f"reading the model list: {done}/{total} ({what})", file=sys.stderr, flush=True)


def cmd_backbones(args: argparse.Namespace) -> int:
    from .console import print_json, table

    catalog = load_catalog(report=_progress, rebuild=args.rebuild)
    entries = search_zoo(catalog.entries, args.search or "")
    here = weights_statuses(entries)
    if args.json:
        # "name", "input_size" and "imagenet_top1": the keys of earlier versions, kept
        print_json([{"name": e.id, **e.to_json(), "input_size": e.image_size,
                     "imagenet_top1": e.top1, "weights": here[e.id]} for e in entries])
        return EXIT_OK
    table([[e.id, e.source, e.family, f"{e.params / 1e6:.1f} M" if e.params else "–",
            f"{e.image_size} px", PRETRAINING_TEXT.get(e.pretraining, e.pretraining),
            f"{e.top1:.1f} %" if e.top1 else "–", here[e.id]] for e in entries],
          ["backbone", "source", "family", "params", "input", "pretraining", "top-1",
           "weights"])
    counts = ", ".join(f"{n} {source}" for source, n in catalog.counts().items())
    print(f"{count(len(entries), 'model')} of {len(catalog.entries)} ({counts})")
    return EXIT_OK
