"""OTLP/HTTP ingest under concurrent clients: spans per second, spans acknowledged but lost, server peak RSS.

    python bench/otlp_ingest.py [--traces 200] [--clients 8] [--label after]
    python bench/otlp_ingest.py --src OLD_CHECKOUT/src --label before    # the receiver of another checkout

`accord serve-otlp` runs in its own process on 127.0.0.1 (from --src when given). Each trace arrives as
several services export one distributed trace: its root and one child in one request, then three more
children in three requests; the requests of all traces go out at once from --clients threads. Afterwards
the store is read by the same code that served it: every span acknowledged with HTTP 200 must be there.
Results: bench/results/otlp_ingest_<label>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from _common import isolated_home, save


def _span(trace: int, span: int, parent: int | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "traceId": f"{trace:032x}",
        "spanId": f"{span:016x}",
        "name": "root" if parent is None else "step",
        "startTimeUnixNano": str(1_700_000_000_000_000_000 + span),
        "endTimeUnixNano": str(1_700_000_000_100_000_000 + span),
        "attributes": [{"key": "input.value", "value": {"stringValue": f"question {trace}"}}],
    }
    if parent is not None:
        item["parentSpanId"] = f"{parent:016x}"
    return item


def _requests(traces: int) -> list[list[dict[str, Any]]]:
    batches = []
    for t in range(1, traces + 1):
        base = t * 100
        batches.append([_span(t, base, None), _span(t, base + 1, base)])
        batches += [[_span(t, base + k, base)] for k in (2, 3, 4)]
    return batches


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


COUNT = """
import json, sys
from accord.store import get_store
store = get_store()
exp = store.resolve_experiment("otlp-bench")
traces = store.get_traces(store.search_trace_ids([exp.experiment_id], newest_first=False))
print(json.dumps({"traces": len(traces), "spans": sum(len(t.spans) for t in traces)}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--src", default="", help="the src/ folder of the checkout whose receiver to run")
    parser.add_argument("--label", default="after")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a request may take (then: no answer)")
    args = parser.parse_args()
    isolated_home()
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = str(Path(args.src).resolve())
    port = _free_port()
    # the server's log goes to a file: a pipe nobody reads fills up and stalls a server that logs errors
    log_path = Path(env["ACCORD_HOME"]) / "serve-otlp.log"
    log_file = log_path.open("w")
    server = subprocess.Popen(
        # the top-level spelling: older checkouts (--src) have only that one; this one still answers to it
        [sys.executable, "-m", "accord.cli", "serve-otlp", "-e", "otlp-bench", "-p", str(port)],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1/traces"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.post(url, json={"resourceSpans": []}, timeout=2)
            break
        except httpx.HTTPError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve-otlp did not start: {log_path.read_text()[-2000:]}") from None
            time.sleep(0.3)
    batches = _requests(args.traces)

    def send(client: httpx.Client, spans: list[dict[str, Any]]) -> tuple[int, int]:
        try:
            return client.post(url, json={"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).status_code, len(
                spans
            )
        except httpx.HTTPError:
            return 0, len(spans)

    with httpx.Client(timeout=args.timeout, limits=httpx.Limits(max_connections=args.clients)) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            answers = list(pool.map(lambda spans: send(client, spans), batches))
        wall = time.perf_counter() - started
    rss = _peak_rss_mb(server.pid)
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:  # a receiver stuck in its handlers: stopped for good
        server.kill()
        server.wait(20)
    log_file.close()
    counted = subprocess.run([sys.executable, "-c", COUNT], env=env, capture_output=True, text=True, check=True)
    stored = json.loads(counted.stdout.strip().splitlines()[-1])
    acknowledged = sum(n for code, n in answers if code == 200)
    codes: dict[str, int] = {}
    for code, _ in answers:
        codes[str(code)] = codes.get(str(code), 0) + 1
    save(
        f"otlp_ingest_{args.label}",
        {
            "src": args.src or "this checkout",
            "traces": args.traces,
            "clients": args.clients,
            "requests": len(batches),
            "spans_sent": sum(len(b) for b in batches),
            "answers": codes,  # "0": no answer within --timeout
            "timeout_s": args.timeout,
            "spans_acknowledged": acknowledged,
            "spans_stored": stored["spans"],
            "acknowledged_but_lost": max(0, acknowledged - stored["spans"]),
            "wall_s": round(wall, 2),
            "spans_per_s": round(sum(len(b) for b in batches) / wall, 1),
            "acknowledged_spans_per_s": round(acknowledged / wall, 1),
            "server_peak_rss_mb": rss,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
