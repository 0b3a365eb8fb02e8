"""Episodic-memory retrieval at scale: 100,000 stored examples (384-d MiniLM-sized vectors), k=5.

    python bench/retrieval.py [--examples 100000] [--queries 500]

Target: p50 under 5 ms per retrieval (the query's embedding is not included: it is one MiniLM call).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from _common import save
from accord.align.memalign.memory import EpisodicMemory, Example


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(args.examples, args.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    memory = EpisodicMemory([Example(f"t{i}", "yes", "", "", "") for i in range(args.examples)], vectors)
    queries = rng.normal(size=(args.queries, args.dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    started = time.perf_counter()
    memory.search(queries[0], 5)  # warm-up
    build_s = time.perf_counter() - started
    timings, hits = [], 0
    for query in queries:
        started = time.perf_counter()
        found = memory.search(query, 5)
        timings.append((time.perf_counter() - started) * 1000)
        exact = set(np.argpartition(-(vectors @ query), 5)[:5].tolist())
        hits += len(exact & {int(e.trace_id[1:]) for e, _ in found})
    timings.sort()
    save(
        "retrieval",
        {
            "examples": args.examples,
            "dim": args.dim,
            "k": 5,
            "queries": args.queries,
            "p50_ms": round(statistics.median(timings), 3),
            "p95_ms": round(timings[int(len(timings) * 0.95)], 3),
            "recall_at_5_vs_exact": round(hits / (5 * len(queries)), 3),
            "first_search_s": round(build_s, 3),
            "target_p50_ms": 5.0,
        },
    )


if __name__ == "__main__":
    main()
