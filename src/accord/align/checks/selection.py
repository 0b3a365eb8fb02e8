"""Which aligned judge to keep: every candidate cross-validated on the same training feedback.

The features (the model's answers to the checks, the embeddings) are computed once per training trace;
each fold only refits small models on them, so comparing candidates costs no model calls. With a few
dozen labels a flexible combiner fits noise: the repeated, stratified cross-validated kappa is what tells,
and the base judge wins whenever nothing beats it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from accord.align.checks.decision import MIN_PER_VERDICT, CaseFeatures, fit_decision, fold_splits, grouped
from accord.metrics import agreement

log = logging.getLogger("accord.align")

# simplest first: on a tie (within TIE) the simpler candidate is kept
ORDER = ("base", "calibrated", "checks", "memory", "checks+memory")
TIE = 0.01
DESCRIPTIONS = {
    "base": "the base judge unchanged",
    "calibrated": "the base judge's own verdict probability with a threshold fitted to the experts' rate",
    "checks": "checks asked one by one (and grounding), combined by a decision fitted to the experts",
    "memory": "a classifier over the embeddings of the expert-labelled examples",
    "checks+memory": "checks and the memory classifier, stacked in one fitted decision",
    "prompt": "guidelines and retrieved examples in the judge's prompt (MemAlign as in MLflow)",
}


@dataclass
class CandidateScore:
    name: str
    kappa: float | None  # mean over repeats of the pooled out-of-fold kappa; None when not measured
    kappa_ci: tuple[float, float] | None
    accuracy: float | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": DESCRIPTIONS.get(self.name, self.name),
            "cv_kappa": None if self.kappa is None else round(self.kappa, 4),
            "cv_kappa_ci": None if self.kappa_ci is None else [round(v, 4) for v in self.kappa_ci],
            "cv_accuracy": None if self.accuracy is None else round(self.accuracy, 4),
            "note": self.note,
        }


def _score(y: np.ndarray, predictions: np.ndarray, classes: list[Any], ordinal: bool) -> tuple[float, float]:
    found = agreement(
        [classes[i] for i in y], [classes[i] for i in predictions], order=classes if ordinal else None, n_boot=0
    )
    kappa = found.extra["weighted_kappa"] if ordinal else found.cohen_kappa
    return float(kappa), found.accuracy


def _interval(y: np.ndarray, predictions: np.ndarray, classes: list[Any], ordinal: bool) -> tuple[float, float]:
    found = agreement([classes[i] for i in y], [classes[i] for i in predictions], order=classes if ordinal else None)
    return tuple(found.extra["weighted_kappa_ci"]) if ordinal else found.kappa_ci  # type: ignore[return-value]


def cross_validate(
    features: CaseFeatures,
    y: np.ndarray,
    classes: list[Any],
    base_predictions: np.ndarray | None,
    check_questions: list[str],
    candidates: Sequence[str],
    regression: bool = False,
    ordinal: bool = False,
    folds: int = 5,
    repeats: int = 5,
    seed: int = 0,
    grounding: Sequence[str] = (),
) -> list[CandidateScore]:
    """Each candidate's repeated stratified k-fold kappa on the training rows (weighted kappa for scales);
    cases that share inputs stay in one fold, so a candidate is never scored on inputs it was fitted on."""
    counts = np.bincount(y, minlength=len(classes))
    folds = int(min(folds, counts[counts > 0].min())) if len(counts[counts > 0]) > 1 else 0
    has_judge = not np.isnan(features.judge).all()
    scores: list[CandidateScore] = []
    for name in candidates:
        if name == "base":
            if base_predictions is None:
                scores.append(CandidateScore(name, None, None, None, "the base judge's verdicts are not known here"))
                continue
            kappa, accuracy = _score(y, base_predictions, classes, ordinal)
            scores.append(CandidateScore(name, kappa, _interval(y, base_predictions, classes, ordinal), accuracy))
            continue
        signals = len(check_questions) + len(grounding)
        why = _unavailable(name, classes, counts, has_judge, signals, regression, folds)
        if why:
            scores.append(CandidateScore(name, None, None, None, why))
            continue
        per_repeat: list[np.ndarray] = []
        for splits in _repeated_splits(y, features.groups, folds, repeats, seed):
            predictions = np.zeros(len(y), dtype=int)
            for train, test in splits:
                decision = fit_decision(
                    name, features.rows(train), y[train], classes, regression, check_questions, has_judge, grounding
                )
                predictions[test] = decision.predict(features.rows(test))[0]
            per_repeat.append(predictions)
        results = [_score(y, p, classes, ordinal) for p in per_repeat]
        kappa = float(np.mean([k for k, _ in results]))
        accuracy = float(np.mean([a for _, a in results]))
        scores.append(CandidateScore(name, kappa, _interval(y, per_repeat[0], classes, ordinal), accuracy))
    for score in scores:
        log.info("candidate %s: cv kappa %s %s", score.name, score.kappa, score.note)
    return scores


def _repeated_splits(
    y: np.ndarray, groups: np.ndarray | None, folds: int, repeats: int, seed: int
) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """The folds of each repeat: grouped when cases share inputs, else scikit-learn's repeated stratified
    k-fold (whose splits earlier alignments were measured with)."""
    if grouped(groups):
        return [fold_splits(y, groups, folds, seed + r) for r in range(repeats)]
    from sklearn.model_selection import RepeatedStratifiedKFold

    splits = list(
        RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed).split(np.zeros(len(y)), y)
    )
    return [splits[r * folds : (r + 1) * folds] for r in range(repeats)]


def _unavailable(
    name: str, classes: list[Any], counts: np.ndarray, has_judge: bool, signals: int, regression: bool, folds: int
) -> str:
    if counts.min() < MIN_PER_VERDICT:
        rare = classes[int(counts.argmin())]
        return f"only {int(counts.min())} training examples of {rare!r} (a fitted decision needs {MIN_PER_VERDICT})"
    if folds < 2:
        return "too few examples per verdict to cross-validate"
    if name == "calibrated" and (len(classes) != 2 or not has_judge or regression):
        return "needs a two-verdict judge whose model reports verdict probabilities"
    if name in ("checks", "checks+memory") and not signals and not has_judge:
        return "no checks were distilled or kept, and the model reports no verdict probabilities"
    return ""


def choose(scores: Sequence[CandidateScore]) -> tuple[str, str]:
    """The candidate with the best cross-validated kappa (the simpler one on a tie), and why."""
    measured = [s for s in scores if s.kappa is not None]
    base = next((s for s in measured if s.name == "base"), None)
    if not measured:
        return "base", "no candidate could be cross-validated; the judge behaves as the base judge"
    best = max(s.kappa for s in measured)  # type: ignore[type-var]
    rank = {name: i for i, name in enumerate(ORDER)}
    chosen = min((s for s in measured if s.kappa >= best - TIE), key=lambda s: rank.get(s.name, len(ORDER)))  # type: ignore[operator]
    if chosen.name == "base":
        return "base", (
            f"no candidate beats the base judge's kappa {base.kappa:.2f} on the training feedback by more than "  # type: ignore[union-attr]
            f"{TIE}: the aligned judge behaves as the base judge does"
        )
    if base is not None and chosen.kappa <= base.kappa:  # type: ignore[operator]
        return "base", f"no candidate beats the base judge's kappa {base.kappa:.2f}: it is kept as it is"
    if base is None and chosen.kappa <= 0:  # type: ignore[operator]
        return "base", "no candidate agrees with the experts better than chance: the judge behaves as the base judge"
    against = f" against {base.kappa:.2f} for the base judge" if base is not None else ""
    return chosen.name, f"best cross-validated kappa, {chosen.kappa:.2f}{against}"
