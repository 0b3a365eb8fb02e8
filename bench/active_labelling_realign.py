"""Which trace to label next, replayed through the product itself: the review queue's order against random order,
with a full alignment after every batch of labels.

    python bench/active_labelling_realign.py --cache DIR                     # queue, then 2 random orders
    python bench/active_labelling_realign.py --orders queue --batch 10 --upto 40

The demo's support data and split: 60 pool traces, 40 held-out test traces. The pool is imported without its
experts' labels. Then, batch after batch:
1. the next `--batch` pool traces are labelled: the experts' verdict and reason, logged as HUMAN feedback with
   `accord.log_feedback`, exactly as the review page saves them;
2. the judge is aligned on the labelled pool traces as `accord align --policy POLICY.md` does (MemAlign: the
   policy's checks, checks distilled from the reasons, the cross-validated decision);
3. the aligned judge is scored on the 40 test traces (Cohen's kappa with its 95% interval);
4. queue order only: the aligned judge judges the still unlabelled pool traces, its verdicts are logged, and the
   next batch is the top of `accord review`'s queue (`accord.review.queue.ReviewQueue`), the order the review
   page shows. Before any label, the queue is built from the generic judge's verdicts.
Random order takes the next traces of a seeded permutation instead. Every checkpoint is written to
bench/results/active_labelling_realign_support.partial.json as soon as it is measured, and the whole run to
bench/results/active_labelling_realign_support.json at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any

from _common import RESULTS, home_with_cache, save
from _datasets import dataset_rows, import_rows, support_split
from active_labelling import TARGET_KAPPA

NAME = "policy_compliant"


def _strip_labels(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "assessments"} for row in rows]


def _expert(row: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in row["assessments"] if a["name"] == NAME)


def replay(order: str, seed: int, batch: int, upto: int, model: str, sink: dict[str, Any]) -> list[dict[str, Any]]:
    import accord
    from accord.agreement import evaluate_agreement
    from accord.align import MemAlignOptimizer
    from accord.align.workflow import align
    from accord.demo import POLICY, demo_judge
    from accord.entities import AssessmentSource, AssessmentSourceType
    from accord.errors import AccordError
    from accord.evaluation import evaluate
    from accord.review.queue import ReviewQueue
    from accord.store import get_store

    rows = dataset_rows("support")
    pool_rows, test_rows = support_split(rows)
    stamp = time.time_ns()
    pool = import_rows(_strip_labels(pool_rows), f"pool-{order}-{seed}-{stamp}")
    test = import_rows(test_rows, f"test-{order}-{seed}-{stamp}")
    by_source = {r["trace_id"]: r for r in pool_rows}
    expert_of = {t.trace_id: _expert(by_source[t.tags["source_trace_id"]]) for t in pool}
    store = get_store()
    experiment_id = pool[0].experiment_id
    judge = demo_judge(model)
    judge.register(experiment_id=experiment_id)
    base = evaluate_agreement(judge, test, concurrency=4, show_progress=False).agreement
    points: list[dict[str, Any]] = [
        {"labels": 0, "kappa": round(base.cohen_kappa, 4), "ci": [round(v, 4) for v in base.kappa_ci], "chosen": "base"}
    ]
    sink["curve"] = points
    permutation = [t.trace_id for t in pool]
    random.Random(seed).shuffle(permutation)
    current = judge
    labelled: list[str] = []
    while len(labelled) < min(upto, len(pool)):
        left = [t for t in pool if t.trace_id not in set(labelled)]
        if order == "queue":
            evaluate(left, [current], concurrency=4, show_progress=False)  # verdicts the queue orders by
            queue = ReviewQueue(store, experiment_id, NAME)
            queue.refresh(wait=True)
            picked = [e.trace_id for e in queue.page(limit=len(pool)).entries if not e.reviewers][:batch]
        else:
            picked = [i for i in permutation if i not in set(labelled)][:batch]
        for trace_id in picked:
            expert = expert_of[trace_id]
            source = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id=expert["source"]["id"])
            accord.log_feedback(trace_id, NAME, expert["value"], rationale=expert.get("rationale"), source=source)
        labelled += picked
        started = time.perf_counter()
        try:
            result = align(judge, store.get_traces(labelled), MemAlignOptimizer(), policy=POLICY, show_progress=False)
        except AccordError as exc:  # too few labels, or a single verdict so far: the generic judge stays
            print(f"{len(labelled)} labels: not aligned ({exc})", file=sys.stderr)
            current, chosen = judge, f"base (not aligned: {exc})"
        else:
            current, chosen = result.judge, str(result.chosen)
            current.register(experiment_id=experiment_id)
        align_seconds = time.perf_counter() - started
        found = evaluate_agreement(current, test, concurrency=4, show_progress=False).agreement
        points.append(
            {
                "labels": len(labelled),
                "kappa": round(found.cohen_kappa, 4),
                "ci": [round(v, 4) for v in found.kappa_ci],
                "chosen": chosen,
                "align_seconds": round(align_seconds, 1),
                "labelled_no": sum(expert_of[i]["value"] == "no" for i in labelled),
            }
        )
        print(f"{order} {seed}: {points[-1]}", file=sys.stderr, flush=True)
        _write(sink)
    return points


PARTIAL = RESULTS / "active_labelling_realign_support.partial.json"  # every checkpoint, until the run ends


def _write(sink: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    PARTIAL.write_text(json.dumps(sink, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="queue,random", help="comma-separated: queue, random")
    parser.add_argument("--seeds", type=int, default=2, help="random orders")
    parser.add_argument("--batch", type=int, default=10, help="labels given between alignments")
    parser.add_argument("--upto", type=int, default=60, help="stop after this many labels")
    parser.add_argument("--model", default="local:/qwen2.5-coder-1.5b")
    parser.add_argument("--cache", default="", help="keep and reuse the model's answers in DIR")
    args = parser.parse_args()
    home_with_cache(args.cache)
    runs: dict[str, Any] = {}
    sink: dict[str, Any] = {"model": args.model, "batch": args.batch, "upto": args.upto, "runs": runs}
    started = time.perf_counter()
    for order in args.orders.split(","):
        for seed in range(args.seeds if order == "random" else 1):
            runs[f"{order}-{seed}"] = run = {}
            replay(order, seed, args.batch, args.upto, args.model, run)
    sink["labels_to_kappa_0_5"] = {
        key: next((p["labels"] for p in run["curve"] if p["kappa"] >= TARGET_KAPPA), None) for key, run in runs.items()
    }
    sink["minutes"] = round((time.perf_counter() - started) / 60, 1)
    save("active_labelling_realign_support", sink)
    PARTIAL.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
