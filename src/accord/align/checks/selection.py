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

from accord.align.checks.decision import MIN_PER_VERDICT, CaseFeatures, fit_decision
from accord.align.checks.folds import fold_splits, grouped
from accord.align.checks.grounding import KEYS
from accord.metrics import agreement, kappa_of_codes

log = logging.getLogger("accord.align")

# simplest first: on a tie (within TIE) the simpler candidate is kept
ORDER = ("base", "calibrated", "shrunk", "checks", "memory", "checks+memory")
TIE = 0.01
DESCRIPTIONS = {
    "base": "the base judge unchanged",
    "calibrated": "the base judge's own verdict probability with a threshold fitted to the experts' rate",
    "shrunk": "the base judge's own verdict, moved by checks whose weights are shrunk towards zero (few labels)",
    "checks": "checks asked one by one (and grounding), combined by a decision fitted to the experts",
    "memory": "a classifier over the embeddings and words of the expert-labelled examples",
    "checks+memory": "checks and the memory classifier, stacked in one fitted decision",
    "prompt": "guidelines and retrieved examples in the judge's prompt (MemAlign as in MLflow)",
}


@dataclass
class CandidateScore:
    name: str
    kappa: float | None  # mean over repeats of the pooled out-of-fold kappa; None when not measured
    kappa_ci: tuple[float, float] | None  # 95%, resampling the cases, of that mean
    accuracy: float | None
    note: str = ""
    # out of fold, first repeat: each training case's predicted class and the decision's confidence in it
    oof: tuple[np.ndarray, np.ndarray] | None = None
    # out of fold, every repeat: each training case's predicted class (the paired gain averages over them)
    repeats: list[np.ndarray] | None = None

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


N_BOOT = 400


def _mean_kappa(y: np.ndarray, repeats: Sequence[np.ndarray], rows: np.ndarray, k: int, ordinal: bool) -> float:
    """The kappa of each repeat's out-of-fold predictions on these rows, averaged (NaN for rows of one label)."""
    weights = "quadratic" if ordinal else None
    return float(np.mean([kappa_of_codes(y[rows], p[rows], k, weights) for p in repeats]))


def _resamples(n: int, y: np.ndarray) -> list[np.ndarray]:
    """The same N_BOOT resamples of the cases for every candidate (seeded), each with two labels or more."""
    rng = np.random.default_rng(0)
    drawn = (rng.integers(0, n, n) for _ in range(N_BOOT))
    return [rows for rows in drawn if len(set(y[rows].tolist())) > 1]


def _repeats_interval(y: np.ndarray, repeats: Sequence[np.ndarray], k: int, ordinal: bool) -> tuple[float, float]:
    """95% bootstrap interval (resampling cases) of the kappa averaged over the repeats: the interval of the
    figure the candidate is ranked by."""
    boots = [_mean_kappa(y, repeats, rows, k, ordinal) for rows in _resamples(len(y), y)]
    defined = [b for b in boots if not np.isnan(b)]
    if not defined:
        return float("nan"), float("nan")
    low, high = np.percentile(defined, [2.5, 97.5])
    return float(low), float(high)


def separation(p: np.ndarray, y: np.ndarray, regression: bool) -> float:
    """How well one check's answers separate the labels: |2 AUC - 1| (best class against the rest), or
    |Spearman's rho| for numbers; 0 when it cannot tell."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    known = ~np.isnan(p)
    p, y = p[known], y[known]
    if len(p) < 4 or len(set(p.tolist())) < 2 or len(set(y.tolist())) < 2:
        return 0.0
    if regression:
        rho = spearmanr(p, y).statistic
        return 0.0 if np.isnan(rho) else abs(float(rho))
    return max(abs(2 * roc_auc_score(y == c, p) - 1) for c in sorted(set(y.tolist())))


# a distilled check sits out a fold whose test rows gave this share of the reasons it came from, or more: a
# check written from one case scores that case with its own answer, one that ten reasons share barely does
SOURCE_SHARE = 1 / 3


@dataclass
class SignalPool:
    """How the checks and grounding measures a decision weighs are picked: those that separate the labels
    of the rows it is fitted on by at least `min_separation`, at most `max_checks` checks. The same rule runs
    inside every fold of the cross-validation (on the fold's training rows only) and once on all rows, so the
    cross-validated kappa counts the cost of picking checks on few labels."""

    questions: list[str]
    grounding: list[str]  # candidate grounding keys, in CaseFeatures.grounding column order (grounding.KEYS)
    min_separation: float
    max_checks: int
    regression: bool
    # for each question, the rows whose expert reasons it was distilled from (none for a check from the task)
    sources: list[frozenset[int]] | None = None

    def select(
        self, features: CaseFeatures, y: np.ndarray, held_out: frozenset[int] = frozenset()
    ) -> tuple[list[int], list[str]]:
        """The checks and grounding keys to weigh. A check distilled from the reasons of `held_out` rows is
        not picked when they are a large part of what it was written from (SOURCE_SHARE): it was written
        knowing their labels, so it would score the fold with its own answers."""
        target = y.astype(float)
        usable = [j for j in range(len(self.questions)) if not self._written_from(j, held_out)]
        scored = [(separation(features.checks[:, j], target, self.regression), j) for j in usable]
        good = sorted((sj for sj in scored if sj[0] >= self.min_separation), key=lambda sj: -sj[0])
        checks = sorted(j for _, j in good[: self.max_checks])
        signals = []
        if features.grounding is not None:
            for key in self.grounding:
                if separation(features.grounding[:, KEYS.index(key)], target, self.regression) >= self.min_separation:
                    signals.append(key)
        return checks, signals

    def _written_from(self, j: int, rows: frozenset[int]) -> bool:
        sources = self.sources[j] if self.sources else frozenset()
        return bool(sources) and len(sources & rows) >= SOURCE_SHARE * len(sources)


def _fit_and_predict(
    name: str,
    features: CaseFeatures,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    classes: list[Any],
    regression: bool,
    pool: SignalPool,
    has_judge: bool,
    picked: list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    fold = features.rows(train)
    checks, signals = pool.select(fold, y[train], frozenset(test.tolist())) if name != "memory" else ([], [])
    if picked is not None:
        picked.extend(checks)
    questions = [pool.questions[j] for j in checks]
    decision = fit_decision(
        name, fold.with_checks(checks), y[train], classes, regression, questions, has_judge, signals
    )
    return decision.predict(features.rows(test).with_checks(checks))


def cross_validate(
    features: CaseFeatures,
    y: np.ndarray,
    classes: list[Any],
    base_predictions: np.ndarray | None,
    pool: SignalPool,
    candidates: Sequence[str],
    regression: bool = False,
    ordinal: bool = False,
    folds: int = 5,
    repeats: int = 5,
    seed: int = 0,
) -> tuple[list[CandidateScore], dict[int, float]]:
    """Each candidate's repeated k-fold kappa on the training rows (weighted kappa for scales), and for each
    check the share of the folds that picked it. Checks and grounding are picked inside each fold; cases
    that share inputs stay in one fold (`features.groups`). With fewer than MIN_PER_VERDICT examples of some
    verdict only the base judge and the shrunk decision are scored (plain k-fold: a verdict may be missing
    from a fold, which the shrunk decision tolerates). A candidate the folds could not score is reported as
    not scored, never as a kappa of 0."""
    counts = np.bincount(y, minlength=len(classes))
    few = regression and len(y) < 4 * MIN_PER_VERDICT or not regression and counts.min() < MIN_PER_VERDICT
    k = folds if few or regression else int(min(folds, counts[counts > 0].min()))
    if not few and not regression and k < 2:
        few, k = True, folds
    has_judge = not np.isnan(features.judge).all()
    scores: list[CandidateScore] = []
    picked_counts: dict[int, int] = {}
    fits = 0
    for name in candidates:
        if name == "base":
            if base_predictions is None:
                scores.append(
                    CandidateScore(name, None, None, None, "not scored: the base judge's verdicts are not known here")
                )
                continue
            kappa, accuracy = _score(y, base_predictions, classes, ordinal)
            interval = _repeats_interval(y, [base_predictions], len(classes), ordinal)
            scores.append(CandidateScore(name, kappa, interval, accuracy, oof=(base_predictions, np.ones(len(y)))))
            continue
        signals = len(pool.questions) + len(pool.grounding)
        why = _unavailable(name, classes, counts, has_judge, signals, regression, few)
        if why:
            scores.append(CandidateScore(name, None, None, None, f"not scored: {why}"))
            continue
        per_repeat: list[np.ndarray] = []
        confidence = np.zeros(len(y))
        for splits in _repeated_splits(y, features.groups, k, repeats, seed, regression or few):
            if not splits:
                break
            predictions = np.zeros(len(y), dtype=int)
            for train, test in splits:
                picked: list[int] = []
                predictions[test], sure = _fit_and_predict(
                    name, features, y, train, test, classes, regression, pool, has_judge, picked
                )
                if not per_repeat:
                    confidence[test] = sure
                if name in ("checks", "shrunk"):
                    fits += 1
                    for j in picked:
                        picked_counts[j] = picked_counts.get(j, 0) + 1
            per_repeat.append(predictions)
        if not per_repeat:
            scores.append(CandidateScore(name, None, None, None, f"not scored: {len(y)} traces make no folds"))
            continue
        results = [_score(y, p, classes, ordinal) for p in per_repeat]
        kappa = float(np.mean([kk for kk, _ in results]))
        accuracy = float(np.mean([a for _, a in results]))
        note = "scored by plain k-fold (too few examples of some verdict to stratify)" if few else ""
        interval = _repeats_interval(y, per_repeat, len(classes), ordinal)
        scores.append(CandidateScore(name, kappa, interval, accuracy, note, (per_repeat[0], confidence), per_repeat))
    for score in scores:
        log.info("candidate %s: cv kappa %s %s", score.name, score.kappa, score.note)
    share = {j: picked_counts.get(j, 0) / fits for j in range(len(pool.questions))} if fits else {}
    return scores, share


def _repeated_splits(
    y: np.ndarray, groups: np.ndarray | None, folds: int, repeats: int, seed: int, plain: bool
) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """The folds of each repeat: scikit-learn's repeated stratified k-fold for distinct inputs and enough
    examples of every verdict (the splits earlier alignments were measured with), else `fold_splits`."""
    if plain or grouped(groups):
        return [fold_splits(y, groups, folds, seed + r, plain) for r in range(repeats)]
    from sklearn.model_selection import RepeatedStratifiedKFold

    splits = list(
        RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed).split(np.zeros(len(y)), y)
    )
    return [splits[r * folds : (r + 1) * folds] for r in range(repeats)]


def _unavailable(
    name: str, classes: list[Any], counts: np.ndarray, has_judge: bool, signals: int, regression: bool, few: bool
) -> str:
    if name == "shrunk":
        if not signals:
            return "no checks or grounding measures to weigh"
        return ""
    if few:
        rare = classes[int(counts.argmin())]
        return f"only {int(counts.min())} training examples of {rare!r} (this candidate needs {MIN_PER_VERDICT})"
    if name == "calibrated" and (len(classes) != 2 or not has_judge or regression):
        return "needs a two-verdict judge whose model reports verdict probabilities"
    if name in ("checks", "checks+memory") and not signals and not has_judge:
        return "no checks were distilled or kept, and the model reports no verdict probabilities"
    return ""


MARGIN_LEVEL = 0.05  # a candidate replaces the base judge only if its gain is above 0 at this one-sided level


def paired_gain(
    candidate: CandidateScore, base: CandidateScore, y: np.ndarray, classes: list[Any], ordinal: bool
) -> tuple[float, float]:
    """The candidate's kappa gain over the base judge on the same out-of-fold cases, and the lower end of its
    one-sided bootstrap interval (resampling cases, both judges together). The candidate's kappa is the mean
    over the repeats of the cross-validation, so one lucky or unlucky assignment of folds does not decide."""
    assert candidate.oof is not None and base.oof is not None
    ours, theirs, k = candidate.repeats or [candidate.oof[0]], [base.oof[0]], len(classes)

    def gain_on(rows: np.ndarray) -> float:
        return _mean_kappa(y, ours, rows, k, ordinal) - _mean_kappa(y, theirs, rows, k, ordinal)

    gain = gain_on(np.arange(len(y)))
    gains = [found for found in map(gain_on, _resamples(len(y), y)) if not np.isnan(found)]
    low = float(np.quantile(gains, MARGIN_LEVEL)) if gains else float("nan")
    return float(gain), low


def choose(
    scores: Sequence[CandidateScore],
    y: np.ndarray | None = None,
    classes: list[Any] | None = None,
    ordinal: bool = False,
) -> tuple[str, str]:
    """The candidate with the best cross-validated kappa (the simpler one on a tie), and why. With the
    labels (`y`, `classes`), a candidate replaces the base judge only when its gain over the base judge on the
    same out-of-fold cases is above 0 at 95% one-sided (a paired bootstrap): never knowingly worse."""
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
    if base is not None and y is not None and classes is not None and chosen.oof is not None and base.oof is not None:
        gain, low = paired_gain(chosen, base, y, classes, ordinal)
        if not low > 0:
            return "base", (
                f"{chosen.name} cross-validated at {chosen.kappa:.2f}{against}, but its gain on the same cases "
                f"({gain:+.2f}, one-sided 95% lower end {low:+.2f}) is not reliably above 0: the base judge is kept"
            )
        against += f"; paired gain {gain:+.2f}, one-sided 95% lower end {low:+.2f}"
    return chosen.name, f"best cross-validated kappa, {chosen.kappa:.2f}{against}"
