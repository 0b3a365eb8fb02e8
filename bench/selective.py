"""Selective verdicts on real verdicts: does the abstention threshold keep its guarantee on new cases?

Reads the held-out verdicts (with the fitted decision's confidence) that bench/alignment.py recorded for an
aligned judge, then 20 times: splits them at random into a calibration half and a test half, picks the
threshold on the calibration half by fixed-sequence testing (`accord.align.selective`, the procedure
alignment uses on its out-of-fold predictions), and measures agreement and coverage on the test half.
No model call: it replays recorded verdicts.

    python bench/selective.py bench/results/alignment_support_curve_policy.json --point 50
    python bench/selective.py RESULTS.json --key memalign --targets 0.8,0.9 --risk 0.1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from accord.align.selective import fixed_sequence_threshold


def replay(verdicts: list[dict[str, Any]], target: float, risk: float, splits: int, seed: int) -> dict[str, Any]:
    rows = [v for v in verdicts if v.get("confidence") is not None and v.get("human") is not None]
    correct = np.array([str(v["human"]) == str(v["value"]) for v in rows])
    confidence = np.array([float(v["confidence"]) for v in rows])
    rng = np.random.default_rng(seed)
    held, coverages, agreements, found, held_certified = 0, [], [], 0, 0
    for _ in range(splits):
        order = rng.permutation(len(rows))
        calibration, test = order[: len(rows) // 2], order[len(rows) // 2 :]
        threshold, _, _ = fixed_sequence_threshold(correct[calibration], confidence[calibration], target, risk)
        if threshold is None:  # no threshold certified: the judge answers everything
            answered = np.ones(len(test), dtype=bool)
        else:
            found += 1
            answered = confidence[test] >= threshold
        coverage = float(answered.mean())
        agreement = float(correct[test][answered].mean()) if answered.any() else 1.0
        coverages.append(coverage)
        agreements.append(agreement)
        held += agreement >= target
        held_certified += threshold is not None and agreement >= target
    return {
        "target": target,
        "risk": risk,
        "cases": len(rows),
        "accuracy_answering_all": round(float(correct.mean()), 4),
        "splits": splits,
        "threshold_found": found,
        "share_meeting_target": round(held / splits, 3),
        # the guarantee is claimed only where a threshold was certified; elsewhere align says it cannot keep it
        "share_meeting_target_when_certified": round(held_certified / found, 3) if found else None,
        "mean_coverage": round(float(np.mean(coverages)), 3),
        "mean_agreement_on_answered": round(float(np.mean(agreements)), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a bench/results/alignment_*.json file")
    parser.add_argument("--point", default="", help="a learning-curve point (training size)")
    parser.add_argument("--key", default="memalign", help="the method's key when not a curve point")
    parser.add_argument("--targets", default="0.8,0.9")
    parser.add_argument("--risk", type=float, default=0.1)
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = json.loads(args.results.read_text())
    entry = data["curve"][args.point] if args.point else data[args.key]
    out = [replay(entry["verdicts"], float(t), args.risk, args.splits, args.seed) for t in args.targets.split(",") if t]
    print(json.dumps({"results": str(args.results), "point": args.point or args.key, "replays": out}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
