"""Agreement between a judge and the humans, and between human reviewers.

scikit-learn and scipy do the standard parts (kappa, confusion, precision/recall, Spearman); Fleiss' kappa
and Krippendorff's alpha, which they lack, are computed here from their textbook definitions.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accord.errors import AccordError
from accord.expert_labels import expert_label

POSITIVE = ("yes", "true", "pass", "good", "1")


@dataclass
class Agreement:
    n: int
    accuracy: float
    cohen_kappa: float
    kappa_ci: tuple[float, float]
    labels: list[Any]
    confusion: list[list[int]]  # rows: human label, columns: judge label, in `labels` order
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kappa_defined(self) -> bool:
        return not math.isnan(self.cohen_kappa)

    def kappa_text(self, digits: int = 2) -> str:
        """ "0.70 [0.47, 0.90]", or "undefined" with the reason when every label and verdict is the same."""
        if not self.kappa_defined:
            return f"undefined ({self.extra.get('kappa_note', 'no variation in labels or verdicts')})"
        low, high = self.kappa_ci
        return f"{self.cohen_kappa:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "cohen_kappa": self.cohen_kappa if self.kappa_defined else None,
            "kappa_ci": list(self.kappa_ci) if self.kappa_defined else None,
            "labels": self.labels,
            "confusion": self.confusion,
            "per_class": self.per_class,
            **self.extra,
        }


def _codes(values: Sequence[Any], labels: list[Any]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    return np.array([index[v] for v in values], dtype=int)


def kappa_of_codes(h: np.ndarray, j: np.ndarray, k: int, weights: str | None) -> float:
    """Cohen's kappa from integer-coded labels (as scikit-learn's `cohen_kappa_score`, thousands of times
    faster for bootstrap intervals, which call it a thousand times). NaN when humans and judge all give one
    and the same label: agreement by chance is then total, and kappa is 0/0."""
    if len(np.union1d(h, j)) < 2:
        return float("nan")
    observed = np.bincount(h * k + j, minlength=k * k).reshape(k, k).astype(float)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    grid = np.abs(np.subtract.outer(np.arange(k), np.arange(k))).astype(float)
    w = (grid > 0).astype(float) if weights is None else grid if weights == "linear" else grid**2
    denominator = float((w * expected).sum())
    return 0.0 if denominator == 0 else 1.0 - float((w * observed).sum()) / denominator


def _kappa(human: Sequence[Any], judge: Sequence[Any], labels: list[Any], weights: str | None = None) -> float:
    return kappa_of_codes(_codes(human, labels), _codes(judge, labels), len(labels), weights)


def _bootstrap_ci(
    h: np.ndarray, j: np.ndarray, labels: list[Any], n_boot: int, seed: int, weights: str | None
) -> tuple[float, float]:
    if n_boot <= 0:  # the point estimate only (cross-validation scores many folds)
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    hc, jc, k = _codes(h.tolist(), labels), _codes(j.tolist(), labels), len(labels)
    boots = [
        kappa_of_codes(hc[idx], jc[idx], k, weights) for idx in (rng.integers(0, len(h), len(h)) for _ in range(n_boot))
    ]
    defined = [b for b in boots if not math.isnan(b)]  # resamples of one label only say nothing
    if not defined:
        return float("nan"), float("nan")
    low, high = np.percentile(defined, [2.5, 97.5])
    return float(low), float(high)


def _positive(labels: list[str]) -> str | None:
    if len(labels) != 2:
        return None
    return next((label for label in labels if label.lower() in POSITIVE), labels[-1])


def agreement(
    human: Sequence[Any],
    judge: Sequence[Any],
    order: Sequence[Any] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Agreement:
    """Accuracy, Cohen's kappa with a bootstrap 95% interval, confusion matrix, per-class precision/recall/F1,
    and for two classes the true-positive and true-negative rates. With `order` (an ordinal scale, low to
    high, or numeric values) also quadratic-weighted kappa, mean absolute error and Spearman's rho."""
    if len(human) != len(judge):
        raise ValueError(f"{len(human)} human labels but {len(judge)} judge verdicts")
    if not human:
        raise ValueError("no traces with both a human label and a judge verdict to compare")
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support  # imported when used: CLI start

    labels = [str(v) for v in order] if order else sorted({str(v) for v in [*human, *judge]})
    labels += sorted({str(v) for v in [*human, *judge]} - set(labels))
    h, j = np.array([str(v) for v in human]), np.array([str(v) for v in judge])
    precision, recall, f1, support = precision_recall_fscore_support(h, j, labels=labels, zero_division=0)
    result = Agreement(
        n=len(h),
        accuracy=float(np.mean(h == j)),
        cohen_kappa=_kappa(h.tolist(), j.tolist(), labels),
        kappa_ci=_bootstrap_ci(h, j, labels, n_boot, seed, None),
        labels=labels,
        confusion=confusion_matrix(h, j, labels=labels).tolist(),
        per_class={
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
    )
    if not result.kappa_defined:
        result.extra["kappa_note"] = (
            f"every expert label and every verdict is {labels[0]!r}: there is no variation to agree on beyond chance"
        )
    positive = _positive(labels)
    if positive is not None:
        negative = next(label for label in labels if label != positive)
        result.extra["positive_label"] = positive
        result.extra["true_positive_rate"] = result.per_class[positive]["recall"]
        result.extra["true_negative_rate"] = result.per_class[negative]["recall"]
    if order:
        rank = {label: i for i, label in enumerate(labels)}
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in order)
        hv = np.array([float(v) if numeric else rank[str(v)] for v in human])
        jv = np.array([float(v) if numeric else rank[str(v)] for v in judge])
        result.extra["weighted_kappa"] = _kappa(h.tolist(), j.tolist(), labels, "quadratic")
        result.extra["weighted_kappa_ci"] = list(_bootstrap_ci(h, j, labels, n_boot, seed, "quadratic"))
        result.extra["mae"] = float(np.mean(np.abs(hv - jv)))
        rho = _spearman(hv, jv)
        result.extra["spearman"] = None if np.isnan(rho) else float(rho)
    return result


def _spearman(hv: np.ndarray, jv: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(hv, jv).statistic) if len(set(hv)) > 1 and len(set(jv)) > 1 else float("nan")


def numeric_agreement(human: Sequence[float], judge: Sequence[float]) -> dict[str, Any]:
    """For float-valued judges: mean absolute error and Spearman's rho (no categories to count)."""
    hv, jv = np.asarray(human, float), np.asarray(judge, float)
    rho = _spearman(hv, jv)
    return {"n": len(hv), "mae": float(np.mean(np.abs(hv - jv))), "spearman": None if np.isnan(rho) else float(rho)}


# between human reviewers ------------------------------------------------------------------------------
def fleiss_kappa(ratings: Sequence[Sequence[Any]]) -> float:
    """Fleiss' kappa for items each rated by the same number (>= 2) of reviewers."""
    items = [list(r) for r in ratings if len(r) >= 2]
    if not items:
        raise ValueError("Fleiss' kappa needs items rated by at least two reviewers")
    n = len(items[0])
    if any(len(r) != n for r in items):
        raise ValueError("Fleiss' kappa needs the same number of ratings per item; use krippendorff_alpha")
    categories = sorted({str(v) for r in items for v in r})
    counts = np.array([[Counter(map(str, r))[c] for c in categories] for r in items], dtype=float)
    p_item = ((counts**2).sum(axis=1) - n) / (n * (n - 1))
    p_cat = counts.sum(axis=0) / (len(items) * n)
    p_bar, p_e = p_item.mean(), (p_cat**2).sum()
    return 1.0 if p_e == 1 else float((p_bar - p_e) / (1 - p_e))


def krippendorff_alpha(
    ratings: Sequence[Sequence[Any]], level: str = "nominal", order: Sequence[Any] | None = None
) -> float:
    """Krippendorff's alpha; items may have any number of ratings (items with one are ignored).
    level: "nominal", "ordinal" (ranks from `order`, else sorted values) or "interval" (numbers)."""
    items = [[v for v in r if v is not None] for r in ratings]
    items = [r for r in items if len(r) >= 2]
    if not items:
        raise ValueError("Krippendorff's alpha needs items rated by at least two reviewers")
    values = sorted({v for r in items for v in r}, key=str) if order is None else list(order)
    index = {str(v): i for i, v in enumerate(values)}
    k = len(values)
    coincidence = np.zeros((k, k))
    for r in items:
        m = len(r)
        for a in range(m):
            for b in range(m):
                if a != b:
                    coincidence[index[str(r[a])], index[str(r[b])]] += 1 / (m - 1)
    marginals = coincidence.sum(axis=1)
    total = marginals.sum()
    if level == "nominal":
        delta = 1 - np.eye(k)
    elif level == "interval":
        numbers = np.array([float(v) for v in values])
        delta = (numbers[:, None] - numbers[None, :]) ** 2
    elif level == "ordinal":
        delta = np.zeros((k, k))
        for c in range(k):
            for d in range(k):
                lo, hi = min(c, d), max(c, d)
                delta[c, d] = (marginals[lo : hi + 1].sum() - (marginals[c] + marginals[d]) / 2) ** 2
    else:
        raise ValueError(f"level must be nominal, ordinal or interval, not {level!r}")
    observed = (coincidence * delta).sum()
    expected = (np.outer(marginals, marginals) * delta).sum() / (total - 1)
    return 1.0 if expected == 0 else float(1 - observed / expected)


def reviewer_agreement(traces: Sequence[Any], name: str) -> dict[str, Any]:
    """How much the human reviewers agree with each other on feedback `name`, and where they disagree."""
    by_trace: dict[str, dict[str, Any]] = defaultdict(dict)
    for trace in traces:
        for a in trace.search_assessments(name=name, type="feedback", source_type="HUMAN"):
            if a.error is None:
                by_trace[trace.trace_id][a.source.source_id] = a.value  # newest per reviewer
    shared = {t: r for t, r in by_trace.items() if len(r) >= 2}
    ratings = [list(r.values()) for r in shared.values()]
    result: dict[str, Any] = {
        "items_with_several_reviewers": len(shared),
        "reviewers": sorted({rv for r in by_trace.values() for rv in r}),
        "disagreements": [
            {"trace_id": t, "labels": r} for t, r in shared.items() if len({repr(v) for v in r.values()}) > 1
        ],
    }
    if ratings:
        result["krippendorff_alpha"] = krippendorff_alpha(ratings)
        sizes = {len(r) for r in ratings}
        result["fleiss_kappa"] = fleiss_kappa(ratings) if len(sizes) == 1 else None
    return result


# judge against humans on traces ----------------------------------------------------------------------
def human_label(trace: Any, name: str) -> Any:
    """The experts' label of the trace (majority of reviewers, newest on a tie: `accord.expert_labels`), or
    None."""
    return expert_label(trace, name)


def judge_agreement(
    traces: Sequence[Any], verdicts: Sequence[Any], name: str, order: Sequence[Any] | None = None
) -> tuple[Agreement, list[dict[str, Any]]]:
    """Agreement of `verdicts` (Feedback) with the human labels on the same traces, and the disagreements.
    Traces without a human label or without a usable verdict are left out (and counted in `extra`)."""
    by_trace = {v.trace_id: v for v in verdicts}
    human, judged, disagreements = [], [], []
    unlabelled = errored = abstained = 0
    for trace in traces:
        label = human_label(trace, name)
        verdict = by_trace.get(trace.trace_id)
        if label is None:
            unlabelled += 1
            continue
        if verdict is None or verdict.error is not None:
            errored += 1
            continue
        if is_abstention(verdict):  # no verdict given: work for the experts, not an error of the judge
            abstained += 1
            continue
        human.append(label)
        judged.append(verdict.value)
        if str(label) != str(verdict.value):
            disagreements.append(
                {"trace_id": trace.trace_id, "human": label, "judge": verdict.value, "rationale": verdict.rationale}
            )
    if unlabelled == len(traces):
        names = sorted({a.name for t in traces for a in t.search_assessments(type="feedback", source_type="HUMAN")})
        raise AccordError(
            f"none of the {len(traces)} traces has HUMAN feedback named {name!r}; "
            f"HUMAN feedback names found: {', '.join(names) or 'none'}"
        )
    if abstained and not judged:
        raise AccordError(f"the judge abstained on all {abstained} labelled traces: there is no verdict to score")
    result = agreement(human, judged, order=order)
    result.extra.update({"unlabelled": unlabelled, "no_verdict": errored})
    if abstained:
        result.extra.update({"abstained": abstained, "coverage": round(len(judged) / (len(judged) + abstained), 4)})
    return result, disagreements


def is_abstention(feedback: Any) -> bool:
    """A judge's abstention (`align(..., target_agreement=...)`): no value, never counted as a verdict."""
    return bool(getattr(feedback, "metadata", None) and feedback.metadata.get("abstained"))
