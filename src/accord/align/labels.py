"""The human labels alignment learns from: HUMAN feedback named like the judge, one label per trace.

Several reviewers on one trace: the one definition in `accord.expert_labels` (each reviewer's newest label
counts once, majority, ties to the newest), which every agreement figure scores against too; every
conflict is reported.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.align.base import AlignmentError
from accord.entities import AssessmentSourceType, Trace
from accord.expert_labels import Vote, expert_votes, resolve
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


def collect_labels(
    judge_name: str,
    value_type: ValueType,
    traces: Sequence[Trace],
    minimum: int = MIN_EXAMPLES,
    judge_key: str | None = None,
) -> LabelSet:
    """One label per trace from its HUMAN feedback named `judge_name`; clear errors when too few. With
    `judge_key`, a label's `judge_value` is that judge's own stored verdict only: an aligned version's verdicts
    share the feedback name, and alignment must compare its candidates with the judge it aligns."""
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
        votes = []
        for vote in expert_votes(trace, judge_name):
            try:
                votes.append(Vote(vote.time_ms, vote.reviewer, value_type.coerce(vote.value), vote.rationale))
            except ValueError as exc:
                rejected.append(
                    {"trace_id": trace.trace_id, "reviewer": vote.reviewer, "value": vote.value, "reason": str(exc)}
                )
        if not votes:
            continue
        winner, conflicted = resolve(votes)
        value, rationale = winner.value, winner.rationale
        if conflicted:
            conflicts.append(
                {"trace_id": trace.trace_id, "labels": {v.reviewer: v.value for v in votes}, "resolved": value}
            )
        verdicts = trace.search_assessments(name=judge_name, type="feedback", source_type="LLM_JUDGE", all=True)
        mine = [v for v in verdicts if judge_key is None or (v.metadata or {}).get("judge_key") == judge_key]
        judge_value = next((v.value for v in reversed(mine) if v.error is None and v.value is not None), None)
        labels.append(
            Label(trace, value, rationale, [v.reviewer for v in votes], judge_value, max(v.time_ms for v in votes))
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
    if not labels and rejected:
        raise AlignmentError(
            f"none of the {len(rejected)} HUMAN labels named {judge_name!r} is a valid {value_type} value, e.g. "
            f"{rejected[0]['value']!r} on trace {rejected[0]['trace_id']} ({rejected[0]['reason']})"
        )
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


MAX_SCALE = 10  # more distinct free-text labels than this: they are not a verdict scale
MAX_VERDICT_CHARS = 40  # a longer free-text label is a comment, not a verdict


def scale_of(instructions: str, values: Sequence[Any]) -> ValueType | None:
    """The verdicts of a free-text judge, when its experts' labels are a few words its instructions name
    ("Rate as: excellent, good, fair, or poor"): those words as categories, in the instructions' order (a scale
    from the first named to the last). None when the labels are not such a set."""
    if not all(isinstance(v, str) and v and v == v.strip() for v in values):
        return None
    distinct = list(dict.fromkeys(values))
    if not 2 <= len(distinct) <= MAX_SCALE or len(distinct) != len({v.lower() for v in distinct}):
        return None
    places = {}
    for value in distinct:  # as a word: "good" is not named by "goodness"
        found = re.search(rf"(?<!\w){re.escape(value)}(?!\w)", instructions, re.IGNORECASE)
        if found is None:
            return None
        places[value] = found.start()
    return ValueType.of(tuple(sorted(distinct, key=places.__getitem__)))


def two_verdicts(values: Sequence[Any]) -> ValueType | None:
    """The verdicts of a free-text judge whose experts use exactly two labels its instructions do not name
    ("Is the answer right?" labelled "correct" / "incorrect"): two verdicts need no order. None otherwise."""
    if not all(isinstance(v, str) and v and v == v.strip() and len(v) <= MAX_VERDICT_CHARS for v in values):
        return None
    distinct = sorted(set(values))
    if len(distinct) != 2 or distinct[0].lower() == distinct[1].lower():
        return None
    return ValueType.of(tuple(distinct))


def verdicts_of(instructions: str, values: Sequence[Any]) -> tuple[ValueType, str] | None:
    """The verdicts a free-text judge's experts use, when a decision can be fitted to them (the scale its
    instructions name, else two labels), and which of the two they are; None otherwise."""
    if (scale := scale_of(instructions, values)) is not None:
        return scale, "the scale its instructions name"
    if (two := two_verdicts(values)) is not None:
        return two, "two verdicts"
    return None


def label_type(traces: Sequence[Trace], judge_name: str) -> ValueType | None:
    """`bool`, `int` or `float` when every expert label named `judge_name` is one: a free-text judge ("Rate from
    1 to 5") whose experts log numbers is a judge of numbers, one whose experts log True / False a judge of
    true or false. None otherwise."""
    values = [vote.value for trace in traces for vote in expert_votes(trace, judge_name)]
    if not values:
        return None
    if all(isinstance(v, bool) for v in values):
        return ValueType.of(bool)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return None
    return ValueType.of(int if all(float(v).is_integer() for v in values) else float)
