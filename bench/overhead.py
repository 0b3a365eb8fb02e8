"""Framework overhead per judgment with the scripted fake model over 10,000 traces (target < 1 ms each).

    python bench/overhead.py [--traces 10000]

Two figures: a judge call alone (prompt rendering, model handle, parsing, Feedback), and the whole
`accord.evaluate()` path (work planning, resume check, thread pool, progress, batched SQLite writes).
"""

from __future__ import annotations

import argparse
import time
from typing import Literal

from _common import isolated_home, save

isolated_home()

import accord  # noqa: E402
from accord.entities import Trace  # noqa: E402
from accord.judges import make_judge  # noqa: E402
from accord.store import get_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=10_000)
    args = parser.parse_args()
    n = args.traces
    exp = accord.set_experiment("overhead")
    traces = [
        Trace(trace_id=f"t{i}", inputs={"question": f"Where is order {i}?"}, outputs=f"Order {i} shipped today.")
        for i in range(n)
    ]
    get_store().insert_traces(traces, exp.experiment_id)
    judge = make_judge(
        "quality",
        "Is the answer in {{ outputs }} helpful for {{ inputs }}?",
        model="fake:",
        feedback_value_type=Literal["yes", "no"],
    )
    judge(trace=traces[0])  # warm-up: imports, model handle

    started = time.perf_counter()
    for trace in traces:
        judge(trace=trace)
    call_ms = (time.perf_counter() - started) * 1000 / n

    started = time.perf_counter()
    result = accord.evaluate("overhead", [judge], concurrency=1, show_progress=False)
    evaluate_ms = (time.perf_counter() - started) * 1000 / n
    assert len(result.verdicts) == n and not result.errors

    started = time.perf_counter()
    accord.evaluate("overhead", [judge], concurrency=1, show_progress=False)
    resume_ms = (time.perf_counter() - started) * 1000 / n
    save(
        "overhead",
        {
            "traces": n,
            "judge_call_ms_per_judgment": round(call_ms, 3),
            "evaluate_ms_per_judgment": round(evaluate_ms, 3),
            "rerun_with_all_verdicts_stored_ms_per_trace": round(resume_ms, 3),
            "target_ms": 1.0,
        },
    )


if __name__ == "__main__":
    main()
