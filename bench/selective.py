"""Selective verdicts on real verdicts: does the abstention threshold keep its guarantee on new cases?

Takes verdicts with a confidence each, then 20 times: splits them at random into a calibration half and a
test half, picks the threshold on the calibration half by fixed-sequence testing (`accord.align.selective`,
the procedure alignment uses), and measures agreement and coverage on the test half.

    python bench/selective.py --dataset halueval --n 200        # asks the embedded model, then replays
    python bench/selective.py --dataset llmbar --n 100          # the pairwise judge on LLMBar natural
    python bench/selective.py bench/results/alignment_support_curve_policy.json --point 50

--dataset: the dataset's base judge (bench/alignment.py's, or PairwisePreference for llmbar) is asked its own
task after each of n stratified rows (seed 0), as a kept base judge is when it abstains: its verdict is the
most likely answer and its confidence that answer's probability. Verdicts go to
bench/results/selective_<dataset>.json with the replays. A results file: replays the held-out verdicts (with
the fitted decision's confidence) bench/alignment.py recorded; no model call.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

from _common import home_with_cache, save
from _datasets import DATASETS, PAIR_NAME, dataset_instructions, dataset_rows, import_rows, stratified_prefix


def replay(verdicts: list[dict[str, Any]], target: float, risk: float, splits: int, seed: int) -> dict[str, Any]:
    # imported here: accord reads its settings once, after main has chosen the benchmark's store and cache
    from accord.align.selective import fixed_sequence_threshold

    rows = [v for v in verdicts if v.get("confidence") is not None and v.get("human") is not None]
    correct = np.array([str(v["human"]) == str(v["value"]) for v in rows])
    confidence = np.array([float(v["confidence"]) for v in rows])
    rng = np.random.default_rng(seed)
    held, coverages, agreements, found, held_certified = 0, [], [], 0, 0
    for _ in range(splits):
        order = rng.permutation(len(rows))
        calibration, test = order[: len(rows) // 2], order[len(rows) // 2 :]
        threshold, _, _ = fixed_sequence_threshold(correct[calibration], confidence[calibration], target, risk)
        if threshold is None:  # no threshold certified: the judge abstains on every case, as accord's does
            answered = np.zeros(len(test), dtype=bool)
        else:
            found += 1
            answered = confidence[test] >= threshold
        coverages.append(float(answered.mean()))
        agreement = float(correct[test][answered].mean()) if answered.any() else None
        if agreement is not None:
            agreements.append(agreement)
        kept = agreement is None or agreement >= target  # nothing answered: nothing answered below the target
        held += kept
        held_certified += threshold is not None and kept
    return {
        "target": target,
        "risk": risk,
        "cases": len(rows),
        "accuracy_answering_all": round(float(correct.mean()), 4),
        "splits": splits,
        "threshold_found": found,
        # what the issue asks: agreement on the answered verdicts reached the target (must be >= 1 - risk)
        "share_meeting_target": round(held / splits, 3),
        "share_meeting_target_when_certified": round(held_certified / found, 3) if found else None,
        # the guarantee's failure: a threshold was certified and the test half fell below the target (<= risk)
        "share_violating": round((found - held_certified) / splits, 3),
        "mean_coverage": round(float(np.mean(coverages)), 3),
        "mean_agreement_on_answered": round(float(np.mean(agreements)), 3) if agreements else None,
    }


def probe_verdicts(dataset: str, n: int, seed: int, model: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The base judge asked its own task after each case: verdict, confidence and the experts' label."""
    from accord.align.checks import answer_choices, ask_case
    from accord.align.selective import verdict_confidence
    from accord.judges import PairwisePreference, make_judge
    from accord.metrics import human_label

    rows = dataset_rows(dataset)
    random.Random(seed).shuffle(rows)
    rows = stratified_prefix(rows, n)
    traces = import_rows(rows, dataset)
    if dataset == "llmbar":
        judge: Any = PairwisePreference(model=model)
        name = PAIR_NAME
    else:
        name = DATASETS[dataset]["name"]
        judge = make_judge(name, dataset_instructions(dataset), model=model, feedback_value_type=Literal["yes", "no"])
    value_of = {text: value for text, value in answer_choices(judge) or []}
    verdicts, started = [], time.perf_counter()
    for i, trace in enumerate(traces, start=1):
        asked = ask_case(judge, [], judge.gather(trace=trace)).judge
        verdict = max(asked, key=asked.__getitem__) if asked else None
        verdicts.append(
            {
                "trace_id": trace.trace_id,
                "human": human_label(trace, name),
                "value": value_of.get(verdict, verdict),
                # the measure a kept base judge abstains on
                "confidence": round(verdict_confidence(asked, verdict), 4) if asked and verdict else None,
            }
        )
        print(f"\r{i}/{len(traces)} asked", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    seconds = time.perf_counter() - started
    return verdicts, {"rows": len(traces), "seconds_per_case": round(seconds / max(1, len(traces)), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="?", help="a bench/results/alignment_*.json file")
    parser.add_argument("--dataset", choices=[*sorted(DATASETS), "llmbar"], help="ask the embedded model instead")
    parser.add_argument("--n", type=int, default=200, help="--dataset: stratified rows asked")
    parser.add_argument("--model", default="local:/qwen2.5-coder-1.5b")
    parser.add_argument("--cache", default="", help="--dataset: keep and reuse the model's answers in DIR")
    parser.add_argument("--point", default="", help="a learning-curve point (training size)")
    parser.add_argument("--key", default="memalign", help="the method's key when not a curve point")
    parser.add_argument("--targets", default="0.8,0.9")
    parser.add_argument("--risk", type=float, default=0.1)
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if (args.results is None) == (args.dataset is None):
        parser.error("give a results file or --dataset")
    targets = [float(t) for t in args.targets.split(",") if t]
    if args.dataset:
        home_with_cache(args.cache)
        verdicts, run = probe_verdicts(args.dataset, args.n, args.seed, args.model)
        replays = [replay(verdicts, t, args.risk, args.splits, args.seed) for t in targets]
        save(
            f"selective_{args.dataset}",
            {
                "dataset": args.dataset,
                "model": args.model,
                "judge": "base, asked after the case",
                **run,
                "replays": replays,
                "verdicts": verdicts,
            },
        )
        return 0
    data = json.loads(args.results.read_text())
    # a learning-curve point, a method's key, or (bench/results/selective_*.json) the file's own verdicts
    entry = data["curve"][args.point] if args.point else data.get(args.key) or data
    out = [replay(entry["verdicts"], t, args.risk, args.splits, args.seed) for t in targets]
    print(json.dumps({"results": str(args.results), "point": args.point or args.key, "replays": out}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
