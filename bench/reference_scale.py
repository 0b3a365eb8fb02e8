"""The reference workflow at its own scale: a dozen expert-labelled traces on a four-level scale, then new cases.

Each step is the MLflow workflow as it reads, with `accord` in place of `mlflow`: the application is traced, the
judge made from the reference's instructions word for word (no verdict type, "Rate as: excellent, good, fair, or
poor"), its verdicts and the experts' ground truth logged as feedback, the judge aligned on the traces that
`search_traces` returns and registered, then compared with the original on new cases by the reference's own
`test_alignment_improvement` (accuracy), and by Cohen's kappa and quadratic-weighted kappa with 95% intervals.

Data: `bench/data/product_quality.jsonl`, 36 product descriptions (12 products, each given with its facts)
labelled excellent / good / fair / poor with a rationale. Each draw trains on 12 (3 of each level: the
reference asks for at least 30% fair or poor) and tests on the other 24.

    python bench/reference_scale.py --draws 3 --cache DIR
    python bench/reference_scale.py --draws 3 --cache DIR --numbers   # the same scale as 1-4, an int judge
    python bench/reference_scale.py --draws 3 --cache DIR --mix 2,1,4,5  # one 'fair' among the dozen
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

from _common import home_with_cache, save

DATA = Path(__file__).parent / "data" / "product_quality.jsonl"
SCALE = ["poor", "fair", "good", "excellent"]  # low to high
INSTRUCTIONS = (
    "Evaluate if the product description in {{ outputs }} "
    "is accurate and helpful for the query in {{ inputs }}. "
    "Rate as: excellent, good, fair, or poor"
)
NUMBERS_INSTRUCTIONS = (
    "Evaluate if the product description in {{ outputs }} "
    "is accurate and helpful for the query in {{ inputs }}. "
    "Rate from 1 (poor) to 4 (excellent)."
)
NUMBER_OF = {level: i + 1 for i, level in enumerate(SCALE)}


def draw(rows: list[dict[str, Any]], seed: int, mix: tuple[int, ...] = (3, 3, 3, 3)) -> tuple[list, list]:
    """`mix`: how many training traces of each level, poor to excellent."""
    rng = random.Random(seed)
    train: list[dict[str, Any]] = []
    for level, count in zip(SCALE, mix, strict=True):
        members = [r for r in rows if r["assessments"][0]["value"] == level]
        train += rng.sample(members, count)
    chosen = {r["trace_id"] for r in train}
    return train, [r for r in rows if r["trace_id"] not in chosen]


def log_application(rows: list[dict[str, Any]], experiment: str) -> dict[str, str]:
    """Runs the 'application' (it returns the stored description) under tracing; row id -> trace id."""
    import accord

    accord.set_experiment(experiment)

    current: dict[str, str] = {}  # the description this run of the application gives (a query has several)

    @accord.trace
    def generate_product_description(query: str) -> str:
        return current["description"]

    ids = {}
    for row in rows:
        current["description"] = row["outputs"]
        generate_product_description(row["inputs"]["query"])
        ids[row["trace_id"]] = accord.get_last_active_trace_id()
    return ids


def log_ground_truth(rows: list[dict[str, Any]], ids: dict[str, str], name: str, numbers: bool = False) -> None:
    import accord
    from accord.entities import AssessmentSource, AssessmentSourceType

    for row in rows:
        truth = row["assessments"][0]
        accord.log_feedback(
            trace_id=ids[row["trace_id"]],
            name=name,
            value=NUMBER_OF[truth["value"]] if numbers else truth["value"],
            rationale=truth["rationale"],
            source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="ground_truth_dataset"),
        )


def test_alignment_improvement(original_judge: Any, aligned_judge: Any, test_traces: list) -> dict[str, Any]:
    """The reference's validation, as written, keeping the verdicts for the kappa figures."""
    original_correct = aligned_correct = 0
    human, before, after = [], [], []
    for trace in test_traces:
        feedbacks = trace.search_assessments(type="feedback")
        human_feedback = next((f for f in feedbacks if f.source.source_type == "HUMAN"), None)
        if not human_feedback:
            continue
        original_eval = original_judge(trace=trace)
        aligned_eval = aligned_judge(trace=trace)
        original_correct += original_eval.value == human_feedback.value
        aligned_correct += aligned_eval.value == human_feedback.value
        human.append(human_feedback.value)
        before.append(original_eval.value)
        after.append(aligned_eval.value)
    total = len(test_traces)
    return {
        "original_accuracy": original_correct / total,
        "aligned_accuracy": aligned_correct / total,
        "improvement": (aligned_correct - original_correct) / total,
        "_verdicts": (human, before, after),
    }


def kappa_figures(human: list, verdicts: list) -> dict[str, Any]:
    from accord.metrics import agreement

    levels = list(range(1, len(SCALE) + 1)) if all(isinstance(h, int) for h in human) else SCALE
    scale = levels + sorted({v for v in verdicts if v not in levels}, key=str)  # an off-scale answer counts as wrong
    result = agreement(human, verdicts, order=scale)
    return {
        "kappa": result.kappa_text(),
        "weighted_kappa": round(result.extra["weighted_kappa"], 2),
        "weighted_kappa_ci": [round(x, 2) for x in result.extra["weighted_kappa_ci"]],
        "verdicts": {str(v): verdicts.count(v) for v in sorted(set(verdicts), key=str)},
        "confusion": {"labels": result.labels, "matrix": result.confusion},
    }


def one_draw(
    rows: list[dict[str, Any]], seed: int, numbers: bool = False, mix: tuple[int, ...] = (3, 3, 3, 3)
) -> dict[str, Any]:
    import accord
    from accord.judges import make_judge

    train_rows, test_rows = draw(rows, seed, mix)
    experiment = accord.set_experiment(f"product-quality-alignment-{seed}")
    if numbers:
        initial_judge = make_judge(name="product_quality", instructions=NUMBERS_INSTRUCTIONS, feedback_value_type=int)
    else:
        initial_judge = make_judge(name="product_quality", instructions=INSTRUCTIONS)  # model=None: the embedded one
    train_ids = log_application(train_rows, experiment.name)
    for trace_id in train_ids.values():  # Step 1: the judge's verdicts, logged under its name
        judge_result = initial_judge(trace=accord.get_trace(trace_id))
        accord.log_feedback(
            trace_id=trace_id, name=initial_judge.name, value=judge_result.value, rationale=judge_result.rationale
        )
    log_ground_truth(train_rows, train_ids, initial_judge.name, numbers)  # Step 2: programmatic feedback
    traces_for_alignment = accord.search_traces(experiment_ids=[experiment.experiment_id], max_results=100)
    started = time.perf_counter()
    aligned_judge = initial_judge.align(traces_for_alignment)  # Step 3: the default optimizer
    align_s = time.perf_counter() - started
    aligned_judge.register(
        experiment_id=experiment.experiment_id,
        name=f"{initial_judge.name}_aligned",
        tags={"num_traces": str(len(traces_for_alignment))},
    )
    test_experiment = accord.set_experiment(f"product-quality-new-{seed}")
    test_ids = log_application(test_rows, test_experiment.name)
    log_ground_truth(test_rows, test_ids, initial_judge.name, numbers)
    test_traces = accord.search_traces(experiment_ids=[test_experiment.experiment_id], max_results=100)
    validation = test_alignment_improvement(initial_judge, aligned_judge, test_traces)
    human, before, after = validation.pop("_verdicts")
    selection = getattr(aligned_judge, "selection", None) or {}
    return {
        "seed": seed,
        "train": sorted(train_ids),
        "n_train": len(traces_for_alignment),
        "n_test": len(test_traces),
        "align_wall_s": round(align_s, 1),
        "chosen": selection.get("chosen"),
        "reason": selection.get("reason"),
        "checks": [
            {k: c.get(k) for k in ("question", "origin", "separation", "picked_in_folds", "kept")}
            for c in selection.get("checks", [])
        ],
        "candidates": {c["name"]: {"cv": c["cv_kappa"], "note": c["note"]} for c in selection.get("candidates", [])},
        **validation,
        "original": kappa_figures(human, before),
        "aligned": kappa_figures(human, after),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=3, help="How many different dozens to align on.")
    parser.add_argument("--cache", default="", help="Keep and reuse the model's answers here.")
    parser.add_argument("--label", default="", help="Suffix of the results file.")
    parser.add_argument(
        "--mix", default="3,3,3,3", help="Training traces of each level, poor to excellent (e.g. 2,1,4,5: one 'fair')."
    )
    parser.add_argument("--numbers", action="store_true", help="The scale as 1 (poor) to 4 (excellent), an int judge.")
    args = parser.parse_args()
    home_with_cache(args.cache)
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    results = []
    for seed in range(args.draws):
        results.append(one_draw(rows, seed, args.numbers, tuple(int(n) for n in args.mix.split(","))))
        print(json.dumps(results[-1], indent=2), flush=True)
    save(
        "reference_scale" + (f"_{args.label}" if args.label else ""),
        {"data": str(DATA.name), "scale": SCALE, "answers_from_cache_dir": bool(args.cache), "draws": results},
    )


if __name__ == "__main__":
    main()
