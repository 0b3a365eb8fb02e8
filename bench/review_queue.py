"""Review queue latency with 100,000 traces, on SQLite and PostgreSQL (target: p95 under 100 ms).

    python bench/review_queue.py [--traces 100000] [--requests 2000] [--clients 4] [--postgres URI]

For each store: fills an experiment with N traces (each judged by a registered judge, every tenth one
reviewed), starts `accord review` in its own process on 127.0.0.1, and drives GET /queue from a load
generator in another process (httpx clients in threads, each with its own connection). Requests cycle
through the first pages, a tag filter and a verdict filter. The first request after start-up builds the
queue's order and is reported separately (cold); the percentiles are over the rest. A second run reads
while a reviewer saves feedback twice a second, so the order keeps changing underneath. Without --postgres,
the URI in ACCORD_TEST_POSTGRES_URI is used when set (`bash scripts/test_postgres.sh` starts a server).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from _common import isolated_home, save
from accord.entities import AssessmentSource, AssessmentSourceType, Feedback, Trace
from accord.judges import make_judge
from accord.store import SqlStore

PATHS = [
    "/queue",
    "/queue?offset=50",
    "/queue?offset=100",
    "/queue?tag=topic%3Dreturns",
    "/queue?says=no",
    "/queue?tag=topic%3Dshipping&says=yes",
]


def fill(uri: str, n: int) -> float:
    store = SqlStore(uri)
    experiment = store.get_or_create_experiment("bench")
    judge = make_judge(
        name="quality", instructions="Is {{ outputs }} a good answer to {{ inputs }}?", feedback_value_type=bool
    )
    os.environ["ACCORD_STORE_URI"] = uri
    judge.register(experiment_id=experiment.experiment_id)
    rng = random.Random(0)
    started = time.perf_counter()
    for start in range(0, n, 5000):
        batch = []
        for i in range(start, min(n, start + 5000)):
            trace = Trace(
                trace_id=f"tr-{i:06d}",
                inputs={"question": f"Where is my order {i}?"},
                outputs=f"Your order {i} ships within two days; track it online.",
                tags={"topic": rng.choice(["returns", "shipping", "billing", "warranty"])},
                request_time_ms=1_700_000_000_000 + i,
            )
            trace.assessments.append(
                Feedback(
                    name="quality",
                    value=rng.random() < 0.7,
                    rationale="scripted",
                    source=AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE, source_id="fake:"),
                    metadata={"judge_key": "quality@1"},
                )
            )
            if i % 10 == 0:
                trace.assessments.append(
                    Feedback(name="quality", value=True, source=AssessmentSource(source_id="expert"))
                )
            batch.append(trace)
        store.insert_traces(batch, experiment.experiment_id)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load(url: str, requests: int, clients: int, writes_per_s: float = 0) -> dict[str, Any]:
    """Run in its own process: `python bench/review_queue.py --load URL ...` prints latencies in ms."""
    cold_started = time.perf_counter()
    httpx.get(url + PATHS[0], timeout=60).raise_for_status()
    cold = (time.perf_counter() - cold_started) * 1000
    for path in PATHS:  # each filter's first use is cached too; warm them like a reviewer's first clicks
        httpx.get(url + path, timeout=60).raise_for_status()

    def worker(index: int) -> list[float]:
        times = []
        with httpx.Client(base_url=url, timeout=30) as client:
            for k in range(index, requests, clients):
                started = time.perf_counter()
                response = client.get(PATHS[k % len(PATHS)])
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
        return times

    stop = threading.Event()
    saved: list[float] = []

    def reviewer() -> None:
        """Saves feedback on a fresh trace every 1/writes_per_s seconds, like reviewers working meanwhile."""
        with httpx.Client(base_url=url, timeout=30) as client:
            client.get("/healthz")
            client.post("/reviewer", data={"name": "bench", "csrf": client.cookies["accord_csrf"]})
            k = 0
            while not stop.wait(1 / writes_per_s):
                k += 1
                started = time.perf_counter()
                client.post(
                    f"/trace/tr-{k * 10 + 1:06d}/feedback",
                    data={"value": "false", "rationale": "bench", "csrf": client.cookies["accord_csrf"]},
                    headers={"Accept": "application/json"},
                ).raise_for_status()
                saved.append((time.perf_counter() - started) * 1000)

    writer = threading.Thread(target=reviewer, daemon=True)
    if writes_per_s:
        writer.start()
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [t for part in pool.map(worker, range(clients)) for t in part]
    wall = time.perf_counter() - began
    stop.set()
    if writes_per_s:
        writer.join(30)
    return {
        "writes_per_s": writes_per_s,
        "saves": len(saved),
        "save_p95_ms": round(percentile(saved, 0.95), 1) if saved else None,
        "cold_first_request_ms": round(cold, 1),
        "requests": len(latencies),
        "clients": clients,
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "requests_per_s": round(len(latencies) / wall, 1),
    }


def measure(uri: str, n: int, requests: int, clients: int) -> dict[str, Any]:
    """Steady reading, then the same reading while a reviewer saves feedback twice a second."""
    fill_s = fill(uri, n)
    port = free_port()
    env = {**os.environ, "ACCORD_STORE_URI": uri}
    server = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "review", "-e", "bench", "-j", "quality", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/healthz", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("accord review did not start") from None
                time.sleep(0.2)
        runs = {}
        for label, writes in (("reading", 0), ("reading_while_saving", 2)):
            generator = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--load",
                    url,
                    "--requests",
                    str(requests),
                    "--clients",
                    str(clients),
                    "--writes-per-s",
                    str(writes),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[label] = json.loads(generator.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(10)
    return {"traces": n, "fill_s": round(fill_s, 1), **runs}


def fresh_postgres(base: str) -> str:
    import psycopg

    name = f"accord_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("ACCORD_TEST_POSTGRES_URI"))
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--writes-per-s", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(json.dumps(load(args.load, args.requests, args.clients, args.writes_per_s)))
        return
    home = isolated_home()
    results = {"sqlite": measure(f"sqlite:///{home / 'bench.db'}", args.traces, args.requests, args.clients)}
    if args.postgres:
        results["postgresql"] = measure(fresh_postgres(args.postgres), args.traces, args.requests, args.clients)
    save("review_queue", {"target_p95_ms": 100, "paths": PATHS, **results})


if __name__ == "__main__":
    main()
