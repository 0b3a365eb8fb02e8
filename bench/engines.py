"""The thread-pool engine against the Ray engine on the same traces, judged by a stub OpenAI-compatible
server with 200 ms latency: verdicts per second, overhead per verdict over the ideal, and memory.

    python bench/engines.py [--traces 100000] [--concurrency 64,256] [--engines threads,ray] [--label NAME]

Ideal wall time: traces x latency / concurrency. Overhead per verdict: (wall - ideal) x concurrency /
traces, the time each in-flight slot spends on accord, litellm and the store rather than waiting on the
model. For Ray, concurrency is actors x threads per actor (4 actors here). The server runs in its own
process. Results: bench/results/engines.json, with a paper estimate for 1,000,000 traces on N nodes.
"""

from __future__ import annotations

import argparse
import os
import resource
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
from accord.llm.model import forget_models  # noqa: E402
from accord.store import get_store  # noqa: E402

RAY_ACTORS = 4


def _rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return round(max(own, children), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", default="64,256")
    parser.add_argument("--engines", default="threads,ray")
    parser.add_argument("--label", default="", help="results go to engines_<label>.json instead of engines.json")
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "accord.llm.stub_server", "--latency", str(args.latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    runs = []
    try:
        base_url = server.stdout.readline().strip()  # type: ignore[union-attr]
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            for engine in args.engines.split(","):
                name = f"{engine}-{concurrency}"
                # one process, one concurrency limit per endpoint: each configuration starts afresh
                forget_models()
                exp = accord.set_experiment(name)
                traces = [Trace(trace_id=f"{name}-{i}", inputs=f"q{i}", outputs=f"a{i}") for i in range(args.traces)]
                get_store().insert_traces(traces, exp.experiment_id)
                slots = concurrency if engine == "threads" else concurrency // RAY_ACTORS
                judge = make_judge(
                    "quality",
                    "Is {{ outputs }} a good answer to {{ inputs }}?",
                    model=f"openai:/stub?base_url={base_url}&max_concurrency={slots}",
                    feedback_value_type=Literal["yes", "no"],
                )
                started = time.perf_counter()
                if engine == "ray":
                    result = accord.evaluate(
                        name,
                        [judge],
                        concurrency=RAY_ACTORS,
                        engine="ray",
                        threads_per_actor=slots,
                        show_progress=False,
                    )
                else:
                    judge(inputs="warm", outputs="up")
                    started = time.perf_counter()
                    result = accord.evaluate(name, [judge], concurrency=concurrency, show_progress=False)
                wall = time.perf_counter() - started
                ideal = args.traces * args.latency / concurrency
                runs.append(
                    {
                        "engine": engine,
                        "concurrency": concurrency,
                        "traces": args.traces,
                        "verdicts": len(result.verdicts),
                        "errors": len(result.errors),
                        "wall_s": round(wall, 1),
                        "ideal_s": round(ideal, 1),
                        "verdicts_per_s": round(len(result.verdicts) / wall, 1),
                        "overhead_ms_per_verdict": round((wall - ideal) * concurrency / args.traces * 1000, 2),
                        "peak_rss_mb": _rss_mb(),
                    }
                )
                print(runs[-1], flush=True)
                # saved after every run: on 2 cores one configuration over 100,000 traces takes about 15 min
                save(
                    f"engines_{args.label}" if args.label else "engines",
                    {"latency_s": args.latency, "runs": runs, "paper_estimate": paper_estimate(runs)},
                )
    finally:
        server.terminate()
        server.wait()


def paper_estimate(runs: list[dict]) -> dict | None:
    """1,000,000 traces on N nodes, each doing the verdicts per second of the Ray run with the least overhead."""
    best = min((r for r in runs if r["engine"] == "ray"), key=lambda r: r["overhead_ms_per_verdict"], default=None)
    if best is None:
        return None
    # per node: the measured verdicts per second; the model endpoint's own limit is assumed not to bind
    per_node = best["verdicts_per_s"]
    return {
        "traces": 1_000_000,
        "from_run": f"ray-{best['concurrency']}",
        "per_node_verdicts_per_s": per_node,
        "hours_on_nodes": {n: round(1_000_000 / (per_node * n) / 3600, 2) for n in (1, 4, 16, 64)},
        "assumes": "each node runs the measured Ray setup on 2 cores; the model endpoint's own limit does not bind",
    }


if __name__ == "__main__":
    main()
