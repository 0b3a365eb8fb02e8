"""Embedded model latency: one verdict for a ~500-token prompt, cold and warm, and the speed-up when
consecutive prompts share the judge's instructions as a prefix (llama.cpp reuses that KV cache).

    python bench/local_latency.py [--model local:/qwen2.5-coder-1.5b] [--n 6]

"No shared prefix" puts a different first line in each prompt's system message, so nothing can be reused.
The response cache is off: every verdict is computed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Literal

from _common import isolated_home, save

isolated_home()
os.environ["ACCORD_NO_CACHE"] = "1"

from accord.demo import DATA, POLICY  # noqa: E402
from accord.judges import make_judge  # noqa: E402
from accord.llm import get_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="local:/qwen2.5-coder-1.5b")
    parser.add_argument("--n", type=int, default=6)
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text().splitlines()][: 2 * args.n + 1]
    instructions = (
        "You review answers of a customer-support assistant against this house policy:\n"
        + POLICY.read_text().split("## Reference")[0]  # the rules only: a ~500-token prompt
        + "\nDecide whether the answer in {{ outputs }} to the message in {{ inputs }} follows the policy."
    )

    def judge(prefix: str = ""):
        return make_judge("policy", prefix + instructions, model=args.model, feedback_value_type=Literal["yes", "no"])

    get_model(args.model)
    started = time.perf_counter()
    first = judge()(inputs=rows[0]["inputs"], outputs=rows[0]["outputs"])
    cold_s = time.perf_counter() - started
    prompt_tokens = first.metadata["usage"]["prompt_tokens"]

    def timed(make, row_slice):
        latencies = []
        for i, row in enumerate(row_slice):
            started = time.perf_counter()
            verdict = make(i)(inputs=row["inputs"], outputs=row["outputs"])
            assert verdict.error is None, verdict.error
            latencies.append(time.perf_counter() - started)
        return latencies

    shared = timed(lambda i: judge(), rows[1 : args.n + 1])
    unshared = timed(lambda i: judge(f"[review batch {i}]\n"), rows[args.n + 1 : 2 * args.n + 1])
    save(
        "local_latency",
        {
            "model": args.model,
            "prompt_tokens": prompt_tokens,
            "cold_s": round(cold_s, 2),
            "warm_shared_prefix_median_s": round(statistics.median(shared), 2),
            "warm_no_shared_prefix_median_s": round(statistics.median(unshared), 2),
            "prefix_reuse_speedup": round(statistics.median(unshared) / statistics.median(shared), 2),
            "verdicts_per_setting": args.n,
        },
    )


if __name__ == "__main__":
    main()
