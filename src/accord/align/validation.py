"""`judge.align(traces, validation=0.2)`: hold out a split, align on the rest, measure both on the split."""

from __future__ import annotations

import logging
import random
import warnings
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from accord.align.base import AlignmentError, AlignmentOptimizer, load_optimizer
from accord.align.labels import collect_labels
from accord.entities import Trace
from accord.judges import Judge
from accord.metrics import human_label

log = logging.getLogger("accord.align")


class AlignmentWorseWarning(UserWarning):
    """The aligned judge agreed less with the humans than the original on held-out traces."""


def split_by_label(
    traces: Sequence[Trace], name: str, fraction: float, seed: int = 0, group_by: str | None = None
) -> tuple[list[Trace], list[Trace]]:
    """Stratified train / held-out split of the labelled traces. With `group_by` (a tag), traces that share
    that tag's value stay on the same side, so no source document is in both."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation must be a fraction between 0 and 1, not {fraction}")
    groups: dict[str, list[Trace]] = defaultdict(list)
    for trace in traces:
        key = trace.tags.get(group_by, trace.trace_id) if group_by else trace.trace_id
        groups[key].append(trace)
    by_label: dict[str, list[list[Trace]]] = defaultdict(list)
    for members in groups.values():
        by_label[repr(human_label(members[0], name))].append(members)
    rng = random.Random(seed)
    held: list[Trace] = []
    for label_groups in by_label.values():
        rng.shuffle(label_groups)
        take = round(len(label_groups) * fraction)
        for members in label_groups[:take]:
            held += members
    held_ids = {t.trace_id for t in held}
    return [t for t in traces if t.trace_id not in held_ids], held


def align_judge(
    judge: Judge,
    traces: Sequence[Trace],
    optimizer: AlignmentOptimizer | str | None = None,
    validation: float | None = None,
    seed: int = 0,
    show_progress: bool = True,
) -> Judge:
    optimizer = optimizer if isinstance(optimizer, AlignmentOptimizer) else load_optimizer(optimizer)
    traces = list(traces)
    if not validation:
        aligned = optimizer.align(judge, traces)
    else:
        collect_labels(judge.name, judge.value_type, traces)  # clear errors before splitting
        labelled = [t for t in traces if human_label(t, judge.name) is not None]
        train, held = split_by_label(labelled, judge.name, validation, seed)
        if not held:
            raise AlignmentError(f"validation={validation} leaves no held-out traces among {len(labelled)} labelled")
        aligned = optimizer.align(judge, train)
        from accord.agreement import compare

        comparison = compare(judge, aligned, held, log_verdicts=False, show_progress=show_progress)
        report: dict[str, Any] = {"train": len(train), "held_out": len(held), **comparison.to_dict()}
        aligned.alignment_report = report  # type: ignore[attr-defined]
        before, after = comparison.before.agreement, comparison.after.agreement
        log.info("held-out kappa %.3f -> %.3f", before.cohen_kappa, after.cohen_kappa)
        if comparison.worse:
            message = (
                f"ALIGNED JUDGE IS WORSE on {len(held)} held-out traces: Cohen's kappa {before.cohen_kappa:.2f} -> "
                f"{after.cohen_kappa:.2f}, accuracy {before.accuracy:.2f} -> {after.accuracy:.2f}. "
                "Check the feedback (reviewer agreement, label balance) before using it."
            )
            log.warning(message)
            warnings.warn(message, AlignmentWorseWarning, stacklevel=3)
    if aligned is judge:
        raise AlignmentError(f"{type(optimizer).__name__}.align returned the input judge; it must return a new one")
    return aligned
