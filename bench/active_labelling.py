"""Which trace to label next: replaying a labelled dev set in the review queue's order against random order.

    python bench/active_labelling.py --dataset support --cache DIR        # the demo's 60 / 40 split
    python bench/active_labelling.py --dataset halueval --pool 100 --test 100

The embedded model answers, once for every trace, the judge's own task (its probability for each verdict)
and the checks written from the task (support: POLICY.md's rules; otherwise the checks from the judge's
instructions, one reflection call). Then, with no further model call, labels are "given" to the pool's traces
in one of two orders, a batch of 5 at a time, and after each batch the shrunk decision alignment fits (the
base judge's verdict moved by the checks, `accord.align.checks.shrunk`) is refitted on the labels so far and
scored on the held-out test traces:
- queue: the review queue's order. First the traces where the fitted decision overrules the judge's own
  verdict, then the least confident ones (before any fit: the base judge's least confident).
- random: a random order (10 seeds; the mean and the range).
Reported: Cohen's kappa on the test traces against the number of labels, and the labels each order needs to
reach kappa 0.5. Results: bench/results/active_labelling_<dataset>.json.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any, Literal

import numpy as np

from _common import home_with_cache, save
from _datasets import DATASETS, dataset_instructions, dataset_rows, label, stratified_prefix, support_split

BATCH = 5
TARGET_KAPPA = 0.5


def features(dataset: str, pool_n: int, test_n: int, seed: int, model: str) -> dict[str, Any]:
    """The judge's own probabilities and the checks' P(yes) for every pool and test trace, and their labels."""

    import accord
    from accord.align.checks import ask_case
    from accord.align.checks.checklist import instruction_checks, policy_checks
    from accord.judges import make_judge

    rows = dataset_rows(dataset)
    if dataset == "support":  # the demo's own split: the same 40 test traces as `accord demo`
        pool_rows, test_rows = support_split(rows)
    else:
        random.Random(seed).shuffle(rows)
        picked = stratified_prefix(rows, pool_n + test_n)
        pool_rows, test_rows = picked[:pool_n], picked[pool_n:]
    judge = make_judge(
        DATASETS[dataset]["name"], dataset_instructions(dataset), model=model, feedback_value_type=Literal["yes", "no"]
    )
    if dataset == "support":
        from accord.demo import POLICY

        checks, _ = policy_checks(POLICY)
    else:
        checks = instruction_checks(judge)
    out: dict[str, Any] = {"checks": [c.question for c in checks]}
    started = time.perf_counter()
    for part, part_rows in (("pool", pool_rows), ("test", test_rows)):
        judge_p, check_p, labels = [], [], []
        for i, row in enumerate(part_rows, start=1):
            trace = accord.Trace(trace_id=row["trace_id"], inputs=row["inputs"], outputs=row["outputs"])
            asked = ask_case(judge, checks, judge.gather(trace=trace))
            found = asked.judge or {}
            judge_p.append([found.get("no", np.nan), found.get("yes", np.nan)])
            check_p.append([np.nan if p is None else p for p in asked.checks])
            labels.append(1 if label(row) == "yes" else 0)
            print(f"\r{part}: {i}/{len(part_rows)} asked", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        out[part] = {"judge": np.array(judge_p, float), "checks": np.array(check_p, float), "y": np.array(labels)}
    out["seconds_asking"] = round(time.perf_counter() - started, 1)
    return out


def _case_features(part: dict[str, Any], index: np.ndarray | None = None) -> Any:
    from accord.align.checks import CaseFeatures

    rows = slice(None) if index is None else index
    judge, checks = part["judge"][rows], part["checks"][rows]
    return CaseFeatures(judge, checks, np.zeros((len(judge), 0), dtype=np.float32))


def _fit(pool: dict[str, Any], labelled: list[int], questions: list[str]) -> Any:
    """The shrunk decision on the labelled pool traces; None while they hold a single verdict."""
    from accord.align.checks.decision import fit_decision

    y = pool["y"][labelled]
    if len(set(y.tolist())) < 2:
        return None
    index = np.array(labelled)
    return fit_decision("shrunk", _case_features(pool, index), y, [0, 1], False, questions, True)


def _base_verdicts(part: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    p_yes = part["judge"][:, 1] / np.nansum(part["judge"], axis=1)
    p_yes = np.where(np.isnan(p_yes), 0.5, p_yes)
    verdict = (p_yes >= 0.5).astype(int)
    return verdict, np.where(verdict == 1, p_yes, 1 - p_yes)


def _kappa(decision: Any, test: dict[str, Any]) -> float:
    from accord.metrics import agreement

    predicted = _base_verdicts(test)[0] if decision is None else decision.predict(_case_features(test))[0]
    found = agreement(test["y"].tolist(), predicted.tolist(), order=None)
    return float(found.cohen_kappa) if found.cohen_kappa is not None else 0.0


def replay(data: dict[str, Any], order: str, seed: int) -> list[tuple[int, float]]:
    """Kappa on the test traces after each batch of labels, labels given in `order` ("queue" or "random")."""
    pool, test, questions = data["pool"], data["test"], data["checks"]
    n = len(pool["y"])
    rng = np.random.default_rng(seed)
    random_order = list(rng.permutation(n))
    labelled: list[int] = []
    curve = []
    decision = None
    while len(labelled) < n:
        left = [i for i in range(n) if i not in set(labelled)]
        if order == "random":
            batch = [i for i in random_order if i in set(left)][:BATCH]
        else:
            base_verdict, base_confidence = _base_verdicts(_sub(pool, left))
            if decision is None:
                rank = np.argsort(base_confidence, kind="stable")
            else:
                verdict, confidence = decision.predict(_case_features(pool, np.array(left)))
                overruled = verdict != base_verdict
                rank = np.lexsort((confidence, ~overruled))  # overruled first, then least confident
            batch = [left[int(j)] for j in rank[:BATCH]]
        labelled += batch
        decision = _fit(pool, labelled, questions)
        curve.append((len(labelled), round(_kappa(decision, test), 4)))
    return curve


def _sub(part: dict[str, Any], index: list[int]) -> dict[str, Any]:
    return {k: v[index] for k, v in part.items()}


def labels_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((n for n, kappa in curve if kappa >= target), None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="support")
    parser.add_argument("--pool", type=int, default=100, help="traces labels are drawn from (not support)")
    parser.add_argument("--test", type=int, default=100, help="held-out traces kappa is measured on (not support)")
    parser.add_argument("--seeds", type=int, default=10, help="random orders averaged")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="local:/qwen2.5-coder-1.5b")
    parser.add_argument("--cache", default="", help="keep and reuse the model's answers in DIR")
    args = parser.parse_args()
    home_with_cache(args.cache)
    data = features(args.dataset, args.pool, args.test, args.seed, args.model)
    queue = replay(data, "queue", args.seed)
    randoms = [replay(data, "random", args.seed + s) for s in range(args.seeds)]
    sizes = [n for n, _ in queue]
    mean_random = [round(float(np.mean([r[i][1] for r in randoms])), 4) for i in range(len(sizes))]
    reach_random = [labels_to_reach(r, TARGET_KAPPA) for r in randoms]
    save(
        f"active_labelling_{args.dataset}",
        {
            "dataset": args.dataset,
            "model": args.model,
            "pool": len(data["pool"]["y"]),
            "test": len(data["test"]["y"]),
            "checks": data["checks"],
            "seconds_asking": data["seconds_asking"],
            "base_judge_kappa": round(_kappa(None, data["test"]), 4),
            "batch": BATCH,
            "curve": {
                "labels": sizes,
                "queue": [k for _, k in queue],
                "random_mean": mean_random,
                "random_min": [min(r[i][1] for r in randoms) for i in range(len(sizes))],
                "random_max": [max(r[i][1] for r in randoms) for i in range(len(sizes))],
            },
            "labels_to_kappa_0_5": {
                "queue": labels_to_reach(queue, TARGET_KAPPA),
                "random": reach_random,
                "random_reached": sum(r is not None for r in reach_random),
            },
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
