"""Run every benchmark, each in its own process, and print a table of the results.

    python tests/bench/run_all.py [--quick] [--only NAME ...] [--markdown FILE]

The full run takes about half an hour on a 2-core CPU (most of it the transfer-quality
benchmark's fine-tunes). `--quick` runs each benchmark at its smallest setting (fewer seeds,
images, epochs and repeats; see QUICK): a check that every script works and a rough figure.
It took 48 minutes (13 minutes of CPU time) on that CPU while other jobs kept it busy; its
figures are noisier and are not the ones in BENCHMARKS.md.

Each benchmark also runs on its own: `python tests/bench/bench_<name>.py --help`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ("training_step", "linear_probe", "decode_cache", "predict_latency", "startup", "gpu",
         "transfer_quality")  # the last one takes the longest
QUICK: dict[str, list[str]] = {  # each benchmark's smallest setting, for --quick
    "training_step": ["--epochs", "4", "--per-class", "12"],
    "linear_probe": ["--images", "40", "--big-images", "100", "--epochs", "5"],
    "decode_cache": ["--per-class", "8"],
    "predict_latency": ["--repeats", "5"],
    "startup": ["--repeats", "2"],
    "gpu": ["--steps", "5"],
    "transfer_quality": ["--sets", "shapes", "--seeds", "3", "--only", "probe,ft-new"],
}


def run(name: str, options: list[str]) -> list[dict]:
    print(f"\n### bench_{name}.py {' '.join(options)}", flush=True)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(HERE / f"bench_{name}.py"), *options],
                               stdout=subprocess.PIPE, text=True)
    results = []
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith("RESULT "):
            results.append(json.loads(line.removeprefix("RESULT ")))
    if process.wait() != 0:
        results.append({"name": f"bench_{name}.py failed (exit {process.returncode})",
                        "ratio": None, "target": "", "met": False, "figures": {}})
    print(f"({time.perf_counter() - start:.0f} s)", flush=True)
    return results


def table(results: list[dict]) -> str:
    rows = ["| benchmark | ratio | target | verdict | figures |", "|---|---|---|---|---|"]
    for r in results:
        verdict = {True: "met", False: "not met", None: "skipped"}[r["met"]]
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3g}"
        figures = ", ".join(f"{k} {v}" for k, v in r["figures"].items())
        rows.append(f"| {r['name']} | {ratio} | {r['target']} | {verdict} | {figures} |")
    machine = next((r["machine"] for r in results if r.get("machine")), "")
    return "\n".join(rows) + f"\n\nMachine: {machine}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=ORDER, default=ORDER)
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--quick", action="store_true",
                        help="each benchmark at its smallest setting")
    args = parser.parse_args()
    start = time.perf_counter()
    results = [r for name in ORDER if name in args.only
               for r in run(name, QUICK[name] if args.quick else [])]
    text = table(results) + f"\nTotal: {time.perf_counter() - start:.0f} s" \
        f"{' (--quick)' if args.quick else ''}\n"
    print("\n" + text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
