"""Cross-validation folds for the fitted decision: stratified by verdict, and grouped by inputs when cases
share them, unless that would leave fewer groups than folds."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def grouped(groups: np.ndarray | None) -> bool:
    """Whether some cases share inputs (several outputs for one source document, say)."""
    return groups is not None and len(set(groups.tolist())) < len(groups)


def cv_grouping(groups: np.ndarray | None, folds: int) -> tuple[np.ndarray | None, str]:
    """The groups the folds keep together, and in words how the folds are made. Cases that share inputs
    (outputs judged for one source document) stay in one fold; when that leaves fewer groups than folds (a
    judge that grades the output alone, every trace with the same inputs) the folds are not grouped: a
    grouping that switched the cross-validation off would score every candidate at nothing, in silence."""
    if not grouped(groups):
        return None, "stratified by verdict (every trace has its own inputs)"
    assert groups is not None
    distinct = len(set(groups.tolist()))
    if distinct < folds:
        return None, (
            f"stratified by verdict, not grouped: the {len(groups)} traces share their inputs in only {distinct} "
            f"group{'s' if distinct != 1 else ''}, fewer than {folds} folds"
        )
    return groups, f"grouped by inputs ({distinct} distinct inputs; traces that share them stay in one fold)"


def fold_splits(
    y: np.ndarray, groups: np.ndarray | None, folds: int, seed: int, regression: bool = False
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs: stratified by verdict (not for numbers), and by group when cases share
    inputs, so that no fold is tested on inputs it was trained on (the memory would otherwise recognise the
    document); see `cv_grouping` for when they are not grouped. Never empty for two or more cases."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    x = np.zeros(len(y))
    folds = max(2, min(folds, len(y)))
    if len(y) < 2:
        return []
    groups, _ = cv_grouping(groups, folds)
    counts = np.unique(y, return_counts=True)[1]
    stratify = not regression and len(counts) > 1 and counts.max() >= folds  # scikit-learn's own condition
    if groups is not None:
        splitter: Any = StratifiedGroupKFold(folds, shuffle=True, random_state=seed) if stratify else GroupKFold(folds)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return list(splitter.split(x, y, groups))
    splitter = (
        StratifiedKFold(folds, shuffle=True, random_state=seed)
        if stratify
        else KFold(folds, shuffle=True, random_state=seed)
    )
    with warnings.catch_warnings():  # a verdict rarer than the folds: scikit-learn warns, the folds still hold
        warnings.simplefilter("ignore", UserWarning)
        return list(splitter.split(x, y))
