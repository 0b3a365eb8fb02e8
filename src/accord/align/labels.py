"""The human labels alignment learns from: HUMAN feedback named like the judge, one label per trace.

Several reviewers on one trace: each reviewer's newest label counts once; agreeing labels all count,
conflicts are resolved by majority with ties going to the newest label, and every conflict is reported.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.align.base import AlignmentError
from accord.entities import AssessmentSourceType, Trace
from accord.judges.value_types import ValueType

log = logging.getLogger("accord.align")
MIN_EXAMPLES = 10


@dataclass
class Label:
    trace: Trace
    value: Any
    rationale: str
    reviewers: list[str]
    judge_value: Any = None  # the judge's own earlier verdict on this trace, when one is stored
    updated_ms: int = 0


@dataclass
class LabelSet:
    labels: list[Label]
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def values(self) -> list[Any]:
        return [label.value for label in self.labels]


def _resolve(votes: list[tuple[int, str, Any, str]]) -> tuple[Any, str, bool]:
    """votes: (time, reviewer, value, rationale), one per reviewer. Majority; ties to the newest."""
    counts = Counter(repr(v[2]) for v in votes)
    top = max(counts.values())
    leaders = {key for key, count in counts.items() if count == top}
    newest = max((v for v in votes if repr(v[2]) in leaders), key=lambda v: v[0])
    return newest[2], newest[3], len(counts) > 1


def collect_labels(
    judge_name: str, value_type: ValueType, traces: Sequence[Trace], minimum: int = MIN_EXAMPLES
) -> LabelSet:
    """One label per trace from its HUMAN feedback named `judge_name`; clear errors when too few."""
    labels: list[Label] = []
    conflicts: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    names: Counter[str] = Counter()
    for trace in traces:
        human = [
            a
            for a in trace.search_assessments(type="feedback", source_type=AssessmentSourceType.HUMAN)
            if a.error is None and a.value is not None
        ]
        names.update(a.name for a in human)
        mine = [a for a in human if a.name == judge_name]
        if not mine:
            continue
        newest_by_reviewer: dict[str, Any] = {}
        for a in sorted(mine, key=lambda a: a.create_time_ms):
            newest_by_reviewer[a.source.source_id] = a
        votes = []
        for reviewer, a in newest_by_reviewer.items():
            try:
                votes.append((a.create_time_ms, reviewer, value_type.coerce(a.value), a.rationale or ""))
            except ValueError as exc:
                rejected.append(
                    {"trace_id": trace.trace_id, "reviewer": reviewer, "value": a.value, "reason": str(exc)}
                )
        if not votes:
            continue
        value, rationale, conflicted = _resolve(votes)
        if conflicted:
            conflicts.append({"trace_id": trace.trace_id, "labels": {r: v for _, r, v, _ in votes}, "resolved": value})
        verdicts = trace.search_assessments(name=judge_name, type="feedback", source_type="LLM_JUDGE", all=True)
        judge_value = next((v.value for v in reversed(verdicts) if v.error is None), None)
        labels.append(
            Label(trace, value, rationale, [r for _, r, _, _ in votes], judge_value, max(v[0] for v in votes))
        )
    if rejected:
        log.warning(
            "%d labels are not valid %s values and were left out, e.g. %s",
            len(rejected),
            value_type,
            rejected[0],
        )
    if conflicts:
        log.warning("%d traces have conflicting labels from several reviewers (resolved by majority)", len(conflicts))
    if not labels:
        found = ", ".join(f"{n} ({c})" for n, c in names.most_common()) or "none"
        raise AlignmentError(
            f"no HUMAN feedback named {judge_name!r} on the {len(traces)} traces given; the feedback name must "
            f"equal the judge's name. HUMAN feedback names found: {found}"
        )
    if len(labels) < minimum:
        raise AlignmentError(
            f"alignment needs at least {minimum} traces with HUMAN feedback named {judge_name!r}; found "
            f"{len(labels)} among {len(traces)} traces"
        )
    if len({repr(label.value) for label in labels}) == 1:
        log.warning(
            "every label for %r is %r: the judge can learn what makes that verdict, but agreement measures such "
            "as kappa cannot show whether it learned anything",
            judge_name,
            labels[0].value,
        )
    return LabelSet(labels, conflicts, rejected)
