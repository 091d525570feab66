"""`transfer-gui inspect DATA`: the data seen through a pretrained network, before training."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .exits import EXIT_OK
from .options import add_run_setting

# the review list's rankings, the default first (the engine's `DEFAULT_METHOD`; repeated here
# so that `--help` needs no engine import; tests/test_label_ranking.py keeps them equal)
LABEL_METHODS = ("self-confidence", "margin", "confident-learning")
LABEL_METHOD = LABEL_METHODS[0]

if TYPE_CHECKING:
    pass


def add_inspect_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect", help="map the images, find likely label errors and near-duplicates",
        description="Compute the pretrained backbone's features of every image of DATA (cached "
                    "for training), then: a 2-D map of them (PCA and t-SNE) with a k-NN "
                    "separability figure, the likely label errors (out-of-fold probe, "
                    "confident learning), and near-duplicate pairs. Fill the label-issues "
                    "CSV's 'action' column (exclude, or a class name) and pass it to "
                    "`train --review` to apply it.")
    p.add_argument("data", help="image folder (one sub-folder per class) or labels CSV")
    p.add_argument("--val", metavar="DIR", help="a separate validation folder")
    p.add_argument("--task", metavar="COLUMN",
                   help="with a labels CSV: the column whose classes are inspected (default "
                        "the first)")
    add_run_setting(p, "image_root", "DataConfig")
    p.add_argument("--backbone", default="efficientnet_lite0",
                   help="the network whose features are used (default %(default)s)")
    p.add_argument("--map", metavar="PNG", help="write the map as a picture")
    p.add_argument("--label-issues", metavar="CSV",
                   help="write the likely label errors (the review list)")
    p.add_argument("--near-duplicates", metavar="CSV",
                   help="write the near-duplicate and exact-duplicate pairs")
    p.add_argument("--threshold", type=float, default=None,
                   help="cosine similarity from which two images are near-duplicates "
                        "(default 0.92)")
    p.add_argument("--method", choices=LABEL_METHODS, default=LABEL_METHOD,
                   help="how the likely label errors are ranked (default %(default)s: the "
                        "probability of the given label, lowest first; it found the most "
                        "planted flips on real photographs, see BENCHMARKS.md)")
    p.add_argument("--seed", type=int, default=0, help="the map's seed (default 0)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="everything as one JSON object")


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..core import DataConfig, inspect_data, inspection_files, inspection_summary
    from .console import ConsoleReporter, print_json, table
    from .options import interruptible

    reporter = ConsoleReporter(as_json=args.json)
    cancel = interruptible()
    data = DataConfig(root=args.data, val_dir=args.val, task=args.task,
                      image_root=args.image_root)
    result = inspect_data(data, args.backbone,
                          args.seed, args.method, args.threshold, args.device, [reporter], cancel)
    inspection_files(result, args.map, args.label_issues, args.near_duplicates)
    summary = inspection_summary(result)
    if args.json:
        print_json(summary)
        return EXIT_OK
    sep = result.separability
    print(f"{summary['images']} images, {len(result.data.classes)} classes; k-NN separability "
          f"{'n/a' if sep is None else f'{100 * sep:.1f} %'}")
    issues = summary["label_issues"]
    print(f"\n{len(issues)} likely label errors")
    if issues:
        table([[r["rank"], r["file"], r["given"], r["suggested"], f"{r['confidence']:.2f}"]
               for r in issues[:20]], ["#", "file", "given", "suggested", "confidence"])
    pairs = summary["near_duplicates"]
    print(f"\n{len(pairs)} duplicate pairs (near and exact)")
    if pairs:
        table([[r["kind"], f"{r['similarity']:.3f}", r["first"], r["second"],
                "yes" if r["across_classes"] is True else "",
                "yes" if r["across_split"] is True else ""] for r in pairs[:20]],
              ["kind", "cosine", "first", "second", "classes", "split"])
    for what, path in (("map", args.map), ("label issues", args.label_issues),
                       ("near-duplicates", args.near_duplicates)):
        if path:
            print(f"{what}: {path}")
    return EXIT_OK

