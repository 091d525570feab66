"""(t) The prediction server on loopback: 1, 4 and 16 concurrent clients, requests/s and
p50/p95 latency, zero errors, answers equal to `predict`'s; and where the batching defaults
come from.

The model is the bundled EfficientNet-Lite0 with its ImageNet head at 224 px (what a served
Lite0 run costs: the head is a fraction of a percent of the work); each request uploads one
real photograph (scikit-image's cat and cup, CC0) or a 640 x 480 photo-like JPEG. The plain
baseline is no batching (batch 1, no wait). Settings are chosen on a first round and reported
from a second one (timings vary between rounds on a shared machine).

    python tests/bench/bench_serve.py [--requests N]
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from common import load_average, machine, photos, report

from transfer_gui.core import Predictor
from transfer_gui.serve.server import Server
from transfer_gui.serve.service import Service

DATA = Path(__file__).resolve().parents[1] / "data"
SETTINGS = [(1, 0.0), (8, 0.002), (16, 0.005), (16, 0.010), (32, 0.005)]  # (batch, wait s)
CLIENTS = (1, 4, 16)


def drive(url: str, files: list[Path], clients: int, per_client: int) -> dict[str, float]:
    """`clients` threads, each sending `per_client` requests one after another."""
    times: list[float] = []
    errors = [0]
    bodies = [(p.name, p.read_bytes()) for p in files]

    def client(index: int) -> None:
        with httpx.Client(timeout=120) as session:
            for i in range(per_client):
                name, data = bodies[(index + i) % len(bodies)]
                start = time.perf_counter()
                answer = session.post(f"{url}/predict", files={"image": (name, data)})
                times.append(time.perf_counter() - start)
                errors[0] += answer.status_code != 200

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ms = np.array(times) * 1000
    return {"rps": len(times) / wall, "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)), "errors": errors[0]}


def same_as_predict(url: str, predictor: Predictor, files: list[Path]) -> bool:
    expected = predictor.predict_paths([str(p) for p in files], top_k=5)
    for path, want in zip(files, expected, strict=True):
        got = httpx.post(f"{url}/predict", files={"image": (path.name, path.read_bytes())},
                         timeout=60).json()
        probs = [a["probability"] for a in got["top_k"]]
        if got["label"] != want.label or not np.allclose(probs, [p for _, p in want.top_k],
                                                         atol=1e-5):
            return False
    return True


def measure(predictor: Predictor, files: list[Path], per_client: int) -> dict:
    rows = {}
    for batch, wait in SETTINGS:
        server = Server(Service(predictor, max_batch=batch, wait_s=wait), "127.0.0.1", 0)
        server.start()
        try:
            drive(server.url, files[:1], 1, 2)  # warm-up
            for clients in CLIENTS:
                row = drive(server.url, files, clients, per_client * max(1, 4 // clients))
                rows[(batch, wait, clients)] = row
                print(f"  batch {batch:2} wait {wait * 1000:4.0f} ms, {clients:2} clients: "
                      f"{row['rps']:5.1f} req/s, p50 {row['p50_ms']:6.0f} ms, p95 "
                      f"{row['p95_ms']:6.0f} ms, errors {row['errors']}", flush=True)
        finally:
            server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8, help="per client (16 clients)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default); on a machine others load, "
                             "1 avoids the stalls of threads waiting for each other")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    files = [DATA / "chelsea.jpg", DATA / "coffee.jpg",
             *sorted(photos(2, size=(640, 480)).rglob("*.jpg"))[:2]]
    predictor = Predictor.imagenet("efficientnet_lite0", "cpu")
    print(machine(), f"load {load_average()}", flush=True)
    print("round 1 (choice)", flush=True)
    choice = measure(predictor, files, args.requests)
    best = max(SETTINGS, key=lambda s: choice[(*s, 16)]["rps"])
    print(f"chosen on round 1: batch {best[0]}, wait {best[1] * 1000:.0f} ms", flush=True)
    print("round 2 (reported)", flush=True)
    final = measure(predictor, files, args.requests)
    server = Server(Service(predictor, max_batch=best[0], wait_s=best[1]), "127.0.0.1", 0)
    server.start()
    try:
        equal = same_as_predict(server.url, predictor, files)
    finally:
        server.stop()
    errors = sum(r["errors"] for r in (*choice.values(), *final.values()))
    figures = {f"b{b}_w{w * 1000:g}_c{c}_{k}": round(v, 1)
               for (b, w, c), row in final.items() for k, v in row.items()}
    figures.update({"chosen_batch": best[0], "chosen_wait_ms": best[1] * 1000,
                    "answers_equal_predict": equal, "errors": errors})
    base, chosen = final[(1, 0.0, 16)]["rps"], final[(*best, 16)]["rps"]
    report("serve", figures, chosen / base, "16 clients, zero errors, answers equal predict",
           errors == 0 and equal, note=f"16-client throughput {chosen / base:.2f}x unbatched")


if __name__ == "__main__":
    main()
