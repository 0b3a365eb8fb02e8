"""1,000 judgments against a local OpenAI-compatible server with 200 ms latency, at concurrency 32.

    python bench/concurrency.py [--judgments 1000] [--latency 0.2] [--concurrency 32]

Ideal: judgments x latency / concurrency (6.25 s). Target: within 1.25x of it. Goes through the real
remote path: litellm, retries, concurrency limit, cache (bypassed so every call hits the server).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Literal

from _common import isolated_home, save

isolated_home()
os.environ["ACCORD_NO_CACHE"] = "1"

import accord  # noqa: E402
from accord.entities import Trace  # noqa: E402
from accord.judges import make_judge  # noqa: E402
from accord.store import get_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--judgments", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    exp = accord.set_experiment("concurrency")
    traces = [Trace(trace_id=f"c{i}", inputs=f"q{i}", outputs=f"a{i}") for i in range(args.judgments)]
    get_store().insert_traces(traces, exp.experiment_id)
    # the server runs in its own process, as a real one would: it must not share this interpreter's GIL
    server = subprocess.Popen(
        [sys.executable, "-m", "accord.llm.stub_server", "--latency", str(args.latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = server.stdout.readline().strip()  # type: ignore[union-attr]
        judge = make_judge(
            "quality",
            "Is {{ outputs }} a good answer to {{ inputs }}?",
            model=f"openai:/stub?base_url={base_url}&max_concurrency={args.concurrency}",
            feedback_value_type=Literal["yes", "no"],
        )
        judge(inputs="warm", outputs="up")  # imports litellm and opens the connection pool
        started = time.perf_counter()
        result = accord.evaluate("concurrency", [judge], concurrency=args.concurrency, show_progress=False)
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait()
    assert len(result.verdicts) == args.judgments and not result.errors, result.summary()
    ideal = args.judgments * args.latency / args.concurrency
    save(
        "concurrency",
        {
            "judgments": args.judgments,
            "latency_s": args.latency,
            "concurrency": args.concurrency,
            "wall_s": round(wall, 2),
            "ideal_s": round(ideal, 2),
            "ratio_to_ideal": round(wall / ideal, 3) if ideal else None,
            "target_ratio": 1.25,
        },
    )


if __name__ == "__main__":
    main()
