"""What should the memory classifier read: the examples' embeddings, their hashed words, or both?

    python bench/memory_views.py

No model calls: the memory classifier (`accord.align.checks.linear.LinearModel`, standardised, the memory's
regularisation) is fitted on the first n training traces of bench/alignment.py's split of each dataset
(support: the demo's split; halueval: the 600-row sample, 200 held out; faithbench_dev: by source document,
60 held out) on each view of what the memory embeds, and scored on the held-out traces: AUC for the experts'
'no' and Cohen's kappa at probability 0.5. Writes bench/results/memory_views.json.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score, roc_auc_score

from _common import isolated_home, save
from _datasets import dataset_rows, label, stratified_prefix, support_split

SIZES = {"support": (10, 25, 50), "halueval": (10, 25, 50, 100), "faithbench": (10, 25, 50)}
TEST = {"support": 40, "halueval": 200, "faithbench": 60}


def main() -> None:
    isolated_home()
    from accord.align.checks.decision import C_MEMORY, MEMORY_WORDS
    from accord.align.checks.linear import LinearModel
    from accord.align.memalign.memory import example_text, hashed_words
    from accord.embeddings import get_embedder
    from alignment import split

    embedder = get_embedder("minilm")
    results: dict[str, Any] = {"buckets": MEMORY_WORDS, "datasets": {}}
    for dataset, sizes in SIZES.items():
        rows = dataset_rows(dataset)
        train, test = support_split(rows) if dataset == "support" else split(dataset, rows, 600, 0)
        train, test = stratified_prefix(train, max(sizes)), stratified_prefix(test, TEST[dataset])
        texts = [example_text(r["inputs"], r["outputs"], {}, "outputs") for r in train + test]
        embedded, words = embedder.embed(texts), hashed_words(texts, MEMORY_WORDS)
        views = {"embeddings": embedded, "words": words, "both": np.hstack([embedded, words])}
        y_test = np.array([label(r) == "no" for r in test], dtype=int)
        points: dict[str, Any] = {}
        for n in sizes:
            picked = [train.index(r) for r in stratified_prefix(train, n)]
            y = np.array([label(train[i]) == "no" for i in picked], dtype=int)
            points[str(n)] = {}
            for view, x in views.items():
                p = LinearModel.fit(x[picked], y, False, C_MEMORY).probabilities(x[len(train) :])[:, 1]
                points[str(n)][view] = {
                    "auc": round(float(roc_auc_score(y_test, p)), 3),
                    "kappa": round(float(cohen_kappa_score(y_test, p >= 0.5)), 3),
                }
            print(dataset, n, {view: found["auc"] for view, found in points[str(n)].items()})
        results["datasets"][dataset] = {"test": len(test), "points": points}
    save("memory_views", results)


if __name__ == "__main__":
    main()
