"""Pairwise benchmark: LLMBar natural (100 pairs, a human preference between two responses each), the
built-in PairwisePreference on the embedded model, without and with order control, and after alignment.

    python bench/pairwise.py                 # all 100 pairs in both orders, then align on 60, test on 40
    python bench/pairwise.py --base-on test  # the base judge on the 40 held-out pairs only (shorter)
    python bench/pairwise.py --base-on test --curve 10,25,50 --cache DIR   # a learning curve on the same 40

"Without order control" is the A/B order alone (what a judge that sees each pair once says); with order
control each pair is judged in both orders and orders that disagree give a tie (counted as wrong). The
aligned judge is MemAlign's choice, aligned on a stratified 60 pairs and measured on the other 40, order-
controlled like its base. With --curve, alignment runs once per size on a stratified prefix of the training
pairs, each aligned judge measured on the same 40 held-out pairs (the chosen candidate named); results then go
to bench/results/pairwise_llmbar_curve.json. --cache DIR keeps the model's answers and reuses them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import RESULTS, isolated_home
from _datasets import PAIR_NAME, pair_rows, stratified_prefix


def _cache_argument() -> str:
    """--cache DIR, read before accord is imported (its settings are read once)."""
    return next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--cache"), "")


isolated_home(keep_cache=False)
if _cache_argument():
    os.environ["ACCORD_CACHE_DIR"] = str(Path(_cache_argument()).resolve())
else:
    os.environ["ACCORD_NO_CACHE"] = "1"  # every verdict and reflection call is really computed

import accord  # noqa: E402
from accord.judges import PairwisePreference  # noqa: E402
from accord.metrics import agreement, human_label  # noqa: E402
from accord.store import get_store  # noqa: E402

NAME = PAIR_NAME


def figures(human: list[str], given: list[str]) -> dict[str, Any]:
    found = agreement(human, given)
    return {
        "n": found.n,
        "accuracy": round(found.accuracy, 4),
        "kappa": round(found.cohen_kappa, 4) if found.kappa_defined else None,
        "kappa_ci": [round(x, 4) for x in found.kappa_ci] if found.kappa_defined else None,
        "verdicts": dict(Counter(given)),
    }


def by_order(report: Any, traces: list[Any]) -> dict[str, Any]:
    human = {t.trace_id: human_label(t, NAME) for t in traces}
    verdicts = [v for v in report.verdicts if v.error is None and v.metadata.get("orders")]
    ab = [v for v in verdicts if "ab" in v.metadata["orders"]]
    ba = [v for v in verdicts if "ba" in v.metadata["orders"]]
    both = [v for v in verdicts if len(v.metadata["orders"]) == 2]
    return {
        "without_order_control_ab": figures([human[v.trace_id] for v in ab], [v.metadata["orders"]["ab"] for v in ab]),
        "without_order_control_ba": figures([human[v.trace_id] for v in ba], [v.metadata["orders"]["ba"] for v in ba]),
        "with_order_control": figures([human[v.trace_id] for v in verdicts], [v.value for v in verdicts]),
        "order_disagreement_rate": round(sum(v.metadata["order_disagreed"] for v in both) / max(1, len(both)), 4),
        "first_position_rate_ab": round(sum(v.metadata["orders"]["ab"] == "A" for v in ab) / max(1, len(ab)), 4),
        "errors": sum(v.error is not None for v in report.verdicts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="local:/qwen2.5-coder-1.5b")
    parser.add_argument("--train", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base-on", choices=["all", "test"], default="all", help="pairs the base judge is measured on")
    parser.add_argument("--curve", default="", help="training sizes for a learning curve, e.g. 10,25,50")
    parser.add_argument("--cache", default="", help="keep the model's answers in DIR and reuse them")
    args = parser.parse_args()
    global RESULT_NAME
    if args.curve:
        RESULT_NAME = "pairwise_llmbar_curve"
    rows = pair_rows()
    path = Path(os.environ["ACCORD_HOME"]) / "llmbar.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    accord.import_traces(path, "llmbar")
    store = get_store()
    traces = store.get_traces(
        store.search_trace_ids([store.resolve_experiment("llmbar").experiment_id], newest_first=False)
    )
    judge = PairwisePreference(model=args.model)
    out: dict[str, Any] = {
        "benchmark": "pairwise_llmbar",
        "date": time.strftime("%Y-%m-%d"),
        "model": args.model,
        "pairs": len(traces),
        "human": dict(Counter(human_label(t, NAME) for t in traces)),
    }
    rng = random.Random(args.seed)
    by_label: dict[str, list[Any]] = {}
    for trace in traces:
        by_label.setdefault(str(human_label(trace, NAME)), []).append(trace)
    train: list[Any] = []
    for members in by_label.values():
        rng.shuffle(members)
        train += members[: round(args.train * len(members) / len(traces))]
    train_ids = {t.trace_id for t in train}
    test = [t for t in traces if t.trace_id not in train_ids]
    # The base judge on every pair, or (--base-on test) only on the held-out ones: alignment asks the base
    # on the training pairs itself, so the shorter run loses only the 100-pair base figures.
    measured = traces if args.base_on == "all" else test
    started = time.perf_counter()
    base = accord.evaluate_agreement(judge, measured, concurrency=1, log_verdicts=True, show_progress=True)
    out[f"base_on_{args.base_on}"] = {
        **by_order(base, measured),
        "seconds_per_pair": round((time.perf_counter() - started) / len(measured), 2),
    }
    save(out)

    test_ids = {t.trace_id for t in test}
    base_test = [v for v in base.verdicts if v.trace_id in test_ids]
    human = {t.trace_id: human_label(t, NAME) for t in test}
    out["split"] = {"train": len(train), "test": len(test)}
    out["base_test"] = {
        "without_order_control_ab": figures(
            [human[v.trace_id] for v in base_test if v.error is None],
            [v.metadata["orders"]["ab"] for v in base_test if v.error is None],
        ),
        "with_order_control": figures(
            [human[v.trace_id] for v in base_test if v.error is None], [v.value for v in base_test if v.error is None]
        ),
    }
    if args.curve:
        curve = out.setdefault("curve", {})
        for size in [int(n) for n in args.curve.split(",") if n]:
            subset = stratified_prefix(train, size, lambda t: str(human_label(t, NAME)))
            started = time.perf_counter()
            aligned = judge.align(subset)
            align_seconds = round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            after = accord.evaluate_agreement(aligned, test, concurrency=1, log_verdicts=False, show_progress=True)
            curve[str(size)] = {
                "labels": dict(Counter(str(human_label(t, NAME)) for t in subset)),
                "chosen": (getattr(aligned, "selection", None) or {}).get("chosen"),
                "reason": (getattr(aligned, "selection", None) or {}).get("reason"),
                "align_seconds": align_seconds,
                "aligned_test": {
                    **by_order(after, test),
                    "seconds_per_pair": round((time.perf_counter() - started) / len(test), 2),
                },
            }
            save(out)
        return
    started = time.perf_counter()
    aligned = judge.align(train)
    out["align_seconds"] = round(time.perf_counter() - started, 1)
    out["chosen"] = (getattr(aligned, "selection", None) or {}).get("chosen")
    out["selection"] = getattr(aligned, "selection", None)
    started = time.perf_counter()
    after = accord.evaluate_agreement(aligned, test, concurrency=1, log_verdicts=False, show_progress=True)
    out["aligned_test"] = {
        **by_order(after, test),
        "seconds_per_pair": round((time.perf_counter() - started) / len(test), 2),
    }
    save(out)


RESULT_NAME = "pairwise_llmbar"


def save(out: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{RESULT_NAME}.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "selection"}, indent=2, default=str), flush=True)


if __name__ == "__main__":
    main()
