"""Agreement between a judge and the humans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from accord.errors import AccordError


@dataclass
class Agreement:
    n: int
    accuracy: float
    cohen_kappa: float
    kappa_ci: tuple[float, float]
    labels: list[Any]
    confusion: list[list[int]]  # rows: human label, columns: judge label, in `labels` order
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "cohen_kappa": self.cohen_kappa,
            "kappa_ci": list(self.kappa_ci),
            "labels": self.labels,
            "confusion": self.confusion,
            **self.extra,
        }


def _kappa(human: Sequence[Any], judge: Sequence[Any], labels: list[Any]) -> float:
    if len(set(human) | set(judge)) < 2:
        return 1.0 if list(human) == list(judge) else 0.0
    value = cohen_kappa_score(human, judge, labels=labels)
    return 0.0 if np.isnan(value) else float(value)


def agreement(human: Sequence[Any], judge: Sequence[Any], n_boot: int = 1000, seed: int = 0) -> Agreement:
    """Accuracy, Cohen's kappa with a bootstrap 95% interval, and the confusion matrix."""
    if len(human) != len(judge):
        raise ValueError(f"{len(human)} human labels but {len(judge)} judge verdicts")
    if not human:
        raise ValueError("no traces with both a human label and a judge verdict to compare")
    keys = sorted({str(v) for v in [*human, *judge]})
    h = [str(v) for v in human]
    j = [str(v) for v in judge]
    kappa = _kappa(h, j, keys)
    rng = np.random.default_rng(seed)
    h_arr, j_arr = np.array(h), np.array(j)
    boots = [
        _kappa(h_arr[idx].tolist(), j_arr[idx].tolist(), keys)
        for idx in (rng.integers(0, len(h), len(h)) for _ in range(n_boot))
    ]
    low, high = np.percentile(boots, [2.5, 97.5])
    return Agreement(
        n=len(h),
        accuracy=float(np.mean(h_arr == j_arr)),
        cohen_kappa=kappa,
        kappa_ci=(float(low), float(high)),
        labels=keys,
        confusion=confusion_matrix(h, j, labels=keys).tolist(),
    )


def human_label(trace: Any, name: str) -> Any:
    """The trace's newest valid HUMAN feedback value named `name`, or None."""
    found = [a for a in trace.search_assessments(name=name, type="feedback", source_type="HUMAN") if a.error is None]
    return found[-1].value if found else None


def judge_agreement(
    traces: Sequence[Any], verdicts: Sequence[Any], name: str
) -> tuple[Agreement, list[dict[str, Any]]]:
    """Agreement of `verdicts` (Feedback) with the human labels on the same traces, and the disagreements.
    Traces without a human label or without a usable verdict are left out (and counted in `extra`)."""
    by_trace = {v.trace_id: v for v in verdicts}
    human, judged, disagreements = [], [], []
    unlabelled = errored = 0
    for trace in traces:
        label = human_label(trace, name)
        verdict = by_trace.get(trace.trace_id)
        if label is None:
            unlabelled += 1
            continue
        if verdict is None or verdict.error is not None:
            errored += 1
            continue
        human.append(label)
        judged.append(verdict.value)
        if str(label) != str(verdict.value):
            disagreements.append(
                {
                    "trace_id": trace.trace_id,
                    "human": label,
                    "judge": verdict.value,
                    "rationale": verdict.rationale,
                }
            )
    if unlabelled == len(traces):
        names = sorted({a.name for t in traces for a in t.search_assessments(type="feedback", source_type="HUMAN")})
        raise AccordError(
            f"none of the {len(traces)} traces has HUMAN feedback named {name!r}; "
            f"HUMAN feedback names found: {', '.join(names) or 'none'}"
        )
    result = agreement(human, judged)
    result.extra.update({"unlabelled": unlabelled, "no_verdict": errored})
    return result, disagreements
