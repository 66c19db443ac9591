"""Latency of `sbrzoo serve` under load, on localhost only, bounded in requests and time.

Starts the server of a run folder on 127.0.0.1 (a free port), sends ``--requests`` POST /recommend
requests of real test sessions from ``--clients`` concurrent clients (each waits for its answer before
sending the next), and prints p50 / p99 latency and requests per second as JSON.

    python benchmarks/serve_load.py RUN_DIR --clients 1,32 --requests 400 --out load.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--clients", default="1,32", help="Comma-separated concurrency levels.")
    parser.add_argument("--requests", type=int, default=400, help="Requests per concurrency level.")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds at most per level.")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from sbrzoo.experiment import load_run
    from sbrzoo.recommend import load_recommender
    from sbrzoo.serve import RecommendServer  # the serve extra: pip install -e ".[serve]"

    recommender = load_recommender(args.run_dir)
    run = load_run(args.run_dir)
    item_map = recommender.ids.item_map  # sbrzoo id -> raw id (None: the ids are the raw ids)
    test = run.dataset.test
    sessions = [[item_map[i].item() if item_map is not None else i for i in test.prefix(n)]
                for n in range(min(len(test), 5000))]
    results = {"run": str(args.run_dir), "model": run.config.model, "k": args.k, "levels": []}
    with RecommendServer(recommender, "127.0.0.1", 0).running() as server:
        host, port = server.address
        for clients in (int(c) for c in args.clients.split(",")):
            results["levels"].append(_level(host, port, sessions, clients, args.requests, args.k, args.timeout))
            print(json.dumps(results["levels"][-1]), file=sys.stderr)
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


def _level(host: str, port: int, sessions: list, clients: int, requests: int, k: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    latencies: list[float] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        for n in range(worker, requests, clients):
            if time.monotonic() > deadline:
                break
            body = json.dumps({"session": sessions[n % len(sessions)], "k": k})
            started = time.perf_counter()
            connection.request("POST", "/recommend", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            with lock:
                latencies.append(time.perf_counter() - started)
        connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"clients": clients, "requests": len(ordered), "seconds": round(seconds, 2),
            "requests_per_s": round(len(ordered) / seconds, 1),
            "p50_ms": round(1000 * statistics.median(ordered), 1),
            "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1)}


if __name__ == "__main__":
    main()
