"""Checks on the embedded model: what one case's checks cost against one reasoned verdict, and what the
shared prefix saves (llama.cpp keeps the KV cache of the case while the questions after it change).

    python bench/check_latency.py [--model local:/qwen2.5-coder-1.5b] [--n 6] [--checks 6]

"No shared prefix" puts a different first line in each question's system message, so every question
prefills the whole case again. The response cache is off: every answer is computed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace

from _common import isolated_home, save

isolated_home(keep_cache=True)  # the joined model file stays where it is; responses are not cached
os.environ["ACCORD_NO_CACHE"] = "1"

from accord.align.checks import Check, ask_case  # noqa: E402
from accord.align.checks import questions as q  # noqa: E402
from accord.demo import DATA, demo_judge  # noqa: E402
from accord.llm import get_model  # noqa: E402

CHECKS = [
    "Is this true of the case: promises a refund, replacement or credit on the company's behalf?",
    "Is this true of the case: promises a ship time or delivery date?",
    "Is this true of the case: asks the customer for full card details or the security code?",
    "Is this true of the case: leaves the outcome to the returns or warranty team to confirm?",
    "Is this true of the case: includes a required safety warning?",
    "Is this true of the case: the answer is accurate about the product?",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="local:/qwen2.5-coder-1.5b")
    parser.add_argument("--n", type=int, default=6)
    parser.add_argument("--checks", type=int, default=6)
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text().splitlines()][1 : 2 * args.n + 1]
    judge = demo_judge(args.model)
    checks = [Check(text) for text in CHECKS[: args.checks]]
    get_model(args.model).complete(q._request("warm-up", "Ready?", ("yes", "no")))  # loads the model

    def verdict_s(row: dict) -> float:
        started = time.perf_counter()
        assert judge(inputs=row["inputs"], outputs=row["outputs"]).error is None
        return time.perf_counter() - started

    def checks_s(row: dict) -> float:
        started = time.perf_counter()
        answers = ask_case(judge, checks, judge.gather(inputs=row["inputs"], outputs=row["outputs"]))
        assert answers.judge is not None and None not in answers.checks
        return time.perf_counter() - started

    original = q._request

    def unshared(case: str, question: str, choices: tuple[str, ...]):  # type: ignore[no-untyped-def]
        request = original(case, question, choices)
        system = {"role": "system", "content": f"[question {question[:30]}]\n{q.CHECK_SYSTEM}"}
        return replace(request, messages=[system, *request.messages[1:]])

    verdicts = [verdict_s(row) for row in rows[: args.n]]
    shared = [checks_s(row) for row in rows[: args.n]]
    q._request = unshared
    try:
        not_shared = [checks_s(row) for row in rows[args.n :]]
    finally:
        q._request = original
    asked = len(checks) + 1  # the checks and the judge's own task
    save(
        "check_latency",
        {
            "model": args.model,
            "cases": args.n,
            "questions_per_case": asked,
            "reasoned_verdict_median_s": round(statistics.median(verdicts), 2),
            "checks_per_case_median_s": round(statistics.median(shared), 2),
            "per_question_median_s": round(statistics.median(shared) / asked, 2),
            "checks_per_case_no_shared_prefix_median_s": round(statistics.median(not_shared), 2),
            "prefix_reuse_speedup": round(statistics.median(not_shared) / statistics.median(shared), 2),
            "checks_vs_verdict": round(statistics.median(shared) / statistics.median(verdicts), 2),
        },
    )


if __name__ == "__main__":
    main()
