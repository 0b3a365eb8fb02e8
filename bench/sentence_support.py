"""Sentence by sentence: does asking the model whether the source states each sentence of a summary rank the
experts' 'no' on faithbench, where the whole-summary checks and word overlap do not transfer to new documents?

    python bench/sentence_support.py [--cache DIR]

The faithbench split of bench/alignment.py (by source document; the first 60 training and 60 held-out
summaries). Each sentence is one yes/no question asked after the case, as a check is; a summary's features are
its least and its mean P(yes). Writes bench/results/sentence_support.json.
"""

from __future__ import annotations

import argparse
import re
from typing import Any, Literal

import numpy as np

from _common import home_with_cache, save
from _datasets import DATASETS, dataset_rows, label, stratified_prefix

QUESTION = 'Does the source state everything this sentence of the summary says: "{sentence}"?'


def sentences(text: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", text) if len(p.strip()) > 3]
    return parts or [text]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local:/qwen2.5-coder-1.5b")
    parser.add_argument("--n", type=int, default=60, help="summaries from each side of the split")
    parser.add_argument("--cache", default="", help="keep the model's answers in DIR and reuse them")
    args = parser.parse_args()
    home_with_cache(args.cache)

    from sklearn.metrics import roc_auc_score

    from accord.align.checks import Check, ask_case
    from accord.entities import Trace
    from accord.judges import make_judge
    from alignment import split

    train, test = split("faithbench", dataset_rows("faithbench"), 0, 0)
    judge = make_judge(
        "faithful",
        DATASETS["faithbench"]["instructions"],
        model=args.model,
        feedback_value_type=Literal["yes", "no"],
    )
    result: dict[str, Any] = {"model": args.model, "question": QUESTION}
    for side, rows in (("train", stratified_prefix(train, args.n)), ("test", stratified_prefix(test, args.n))):
        least, mean, bad = [], [], []
        for row in rows:
            checks = [Check(QUESTION.format(sentence=s)) for s in sentences(row["outputs"])]
            case = judge.gather(trace=Trace(trace_id=row["trace_id"], inputs=row["inputs"], outputs=row["outputs"]))
            p = np.array([np.nan if a is None else a for a in ask_case(judge, checks, case, ask_judge=False).checks])
            least.append(np.nanmin(p))
            mean.append(np.nanmean(p))
            bad.append(label(row) == "no")
        y = np.array(bad)
        result[side] = {
            "n": len(y),
            "no": int(y.sum()),
            "auc_no_least_supported": round(float(roc_auc_score(y, -np.array(least))), 3),
            "auc_no_mean_support": round(float(roc_auc_score(y, -np.array(mean))), 3),
        }
        print(side, result[side], flush=True)
    save("sentence_support", result)


if __name__ == "__main__":
    main()
