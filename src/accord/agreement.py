"""How well a judge agrees with the humans on given traces, and two judges side by side."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.entities import Experiment, Feedback, Trace
from accord.errors import AccordError
from accord.evaluation import evaluate, resolve_traces
from accord.judges import Judge
from accord.judges.value_types import ValueType
from accord.metrics import Agreement, human_label, judge_agreement

log = logging.getLogger("accord")


def _fits(value_type: ValueType, value: Any) -> bool:
    try:
        value_type.coerce(value)
    except ValueError:
        return False
    return True


def scale_order(value_type: ValueType, values: Sequence[Any]) -> list[Any] | None:
    """The order that makes a scale ordinal: categories as listed (3 or more), or sorted numbers."""
    if value_type.kind == "categorical" and len(value_type.categories) > 2:
        return list(value_type.categories)
    if value_type.kind in ("int", "float"):
        return sorted({v for v in values if isinstance(v, (int, float))})
    return None


@dataclass
class AgreementReport:
    judge: str
    agreement: Agreement
    disagreements: list[dict[str, Any]]
    verdicts: list[Feedback] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"judge": self.judge, **self.agreement.to_dict(), "disagreements": self.disagreements}


def evaluate_agreement(
    judge: Judge,
    traces: Sequence[Trace] | str | Experiment,
    concurrency: int = 4,
    log_verdicts: bool = True,
    show_progress: bool = True,
    include_learned: bool = False,
    leave_out: Sequence[str] = (),
) -> AgreementReport:
    """Run `judge` where it has no verdict yet (stored verdicts of the same judge version are reused) and
    compare with the HUMAN feedback of the judge's name, on the traces the judge did not learn from (their
    number is in `agreement.extra["learned_left_out"]`). `include_learned=True` counts them too, and the
    report says so. `leave_out`: more trace ids to leave out (another version's, to score both on the same
    traces)."""
    traces = resolve_traces(traces)
    labelled = [t for t in traces if human_label(t, judge.name) is not None]
    if not labelled:
        judge_agreement(traces, [], judge.name)  # raises, naming the feedback names that do exist
    skipped = set() if include_learned else set(judge.learned_from) | set(leave_out)
    learned = [t for t in labelled if t.trace_id in skipped]
    if learned:
        labelled = [t for t in labelled if t.trace_id not in skipped]
        if not labelled:
            raise AccordError(
                f"all {len(learned)} labelled traces were learned from by {judge.key} (or the version it is compared "
                "with): there is nothing unseen to measure it on. Label more traces, or pass include_learned=True "
                "(--include-learned) for a figure that counts them"
            )
    invalid = [t for t in labelled if not _fits(judge.value_type, human_label(t, judge.name))]
    if invalid:  # a label outside the judge's verdicts is no class of its own: it is left out, and counted
        example = invalid[0]
        log.warning(
            "%d HUMAN labels named %r are not %s values and are left out of agreement, e.g. %r on trace %s",
            len(invalid),
            judge.name,
            judge.value_type,
            human_label(example, judge.name),
            example.trace_id,
        )
        left_out = {t.trace_id for t in invalid}
        labelled = [t for t in labelled if t.trace_id not in left_out]
        if not labelled:
            raise AccordError(f"none of the HUMAN labels named {judge.name!r} is a {judge.value_type} value")
    result = evaluate(
        labelled, [judge], concurrency=concurrency, log_verdicts=log_verdicts, show_progress=show_progress
    )
    verdicts = result.all_verdicts()
    order = scale_order(judge.value_type, [human_label(t, judge.name) for t in labelled] + [v.value for v in verdicts])
    agreement, disagreements = judge_agreement(labelled, verdicts, judge.name, order=order)
    agreement.extra["unparseable"] = sum(1 for v in verdicts if v.error is not None)
    agreement.extra["invalid_labels"] = len(invalid)
    agreement.extra["learned_left_out"] = len(learned)
    agreement.extra["include_learned"] = include_learned
    orders = [v.metadata["order_disagreed"] for v in verdicts if v.metadata.get("order_disagreed") is not None]
    if orders:  # a pairwise judge judged each pair in both orders: how often they disagreed
        agreement.extra["order_disagreement_rate"] = round(sum(orders) / len(orders), 4)
    return AgreementReport(judge.key, agreement, disagreements, verdicts)


@dataclass
class Comparison:
    before: AgreementReport
    after: AgreementReport
    changed: list[dict[str, Any]]  # traces where the two judges gave different verdicts

    @property
    def kappa_gain(self) -> float:
        return self.after.agreement.cohen_kappa - self.before.agreement.cohen_kappa

    @property
    def worse(self) -> bool:
        return self.after.agreement.cohen_kappa < self.before.agreement.cohen_kappa

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "kappa_gain": self.kappa_gain,
            "changed": self.changed,
        }


def compare(
    original: Judge,
    aligned: Judge,
    test_traces: Sequence[Trace] | str | Experiment,
    concurrency: int = 4,
    log_verdicts: bool = True,
    show_progress: bool = True,
    include_learned: bool = False,
) -> Comparison:
    """Both judges on the same traces, none that either learned from (unless `include_learned`): agreement
    with the humans side by side, and where they differ."""
    traces = resolve_traces(test_traces)
    either = sorted(original.learned_from | aligned.learned_from)
    before = evaluate_agreement(original, traces, concurrency, log_verdicts, show_progress, include_learned, either)
    after = evaluate_agreement(aligned, traces, concurrency, log_verdicts, show_progress, include_learned, either)
    first = {v.trace_id: v for v in before.verdicts}
    by_id = {t.trace_id: t for t in traces}
    changed = []
    for verdict in after.verdicts:
        old = first.get(verdict.trace_id)
        if old is not None and repr(old.value) != repr(verdict.value):
            changed.append(
                {
                    "trace_id": verdict.trace_id,
                    "human": human_label(by_id[verdict.trace_id], aligned.name),
                    "before": old.value,
                    "after": verdict.value,
                }
            )
    return Comparison(before, after, changed)
