"""The experts' label of a trace: one definition, used by alignment, the hold-out split, agreement,
monitoring and the review page.

Each reviewer's newest HUMAN feedback with the name counts once; the label is the majority of those votes,
a tie going to the newest vote. Alignment trains on this label and every figure scores against it, so a
trace with conflicting reviewers is never trained on one label and measured against another.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accord.entities import AssessmentSourceType


@dataclass(frozen=True)
class Vote:
    time_ms: int
    reviewer: str
    value: Any
    rationale: str


def expert_votes(trace: Any, name: str) -> list[Vote]:
    """Each reviewer's newest valid HUMAN feedback named `name` on the trace, oldest first."""
    found = [
        a
        for a in trace.search_assessments(name=name, type="feedback", source_type=AssessmentSourceType.HUMAN)
        if a.error is None and a.value is not None
    ]
    newest: dict[str, Any] = {}
    for a in sorted(found, key=lambda a: a.create_time_ms):
        newest[a.source.source_id] = a
    votes = [Vote(a.create_time_ms, reviewer, a.value, a.rationale or "") for reviewer, a in newest.items()]
    return sorted(votes, key=lambda v: v.time_ms)


def resolve(votes: list[Vote]) -> tuple[Vote, bool]:
    """The winning vote (majority; ties to the newest) and whether the reviewers disagreed."""
    counts = Counter(repr(v.value) for v in votes)
    top = max(counts.values())
    leaders = {key for key, count in counts.items() if count == top}
    newest = max((v for v in votes if repr(v.value) in leaders), key=lambda v: v.time_ms)
    return newest, len(counts) > 1


def expert_label(trace: Any, name: str, coerce: Callable[[Any], Any] | None = None) -> Any:
    """The experts' label of the trace for feedback `name`, or None when no expert labelled it. `coerce`
    (a value type's) makes "Yes" and "yes" one vote; values it rejects are left out."""
    votes = expert_votes(trace, name)
    if coerce is not None:
        kept = []
        for vote in votes:
            try:
                kept.append(Vote(vote.time_ms, vote.reviewer, coerce(vote.value), vote.rationale))
            except ValueError:
                continue
        votes = kept
    return resolve(votes)[0].value if votes else None
