"""The alignment workflow, one for the Python API, `accord align` and the review page's "Align now": hold out
a split, align on the rest, measure both judges on the split, and return a typed `AlignmentResult`."""

from __future__ import annotations

import logging
import random
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accord.align.base import AlignmentError, AlignmentOptimizer, load_optimizer
from accord.align.labels import collect_labels
from accord.entities import Trace
from accord.judges import Judge
from accord.metrics import human_label

if TYPE_CHECKING:
    from accord.agreement import Comparison

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


@dataclass
class AlignmentResult:
    """What one alignment did: the new judge, agreement before and after on held-out traces (when a split
    was held out), the candidates compared and the one chosen (MemAlign), and what it cost."""

    judge: Judge
    train: int
    held_out: int = 0
    comparison: Comparison | None = None
    selection: dict[str, Any] | None = None
    align_seconds: float = 0.0

    @property
    def chosen(self) -> str | None:
        return (self.selection or {}).get("chosen")

    @property
    def worse(self) -> bool:
        return bool(self.comparison and self.comparison.worse)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"train": self.train, "held_out": self.held_out, "align_seconds": self.align_seconds}
        if self.comparison is not None:
            out.update(self.comparison.to_dict())
        if self.selection:
            out.update({"selection": self.selection, "chosen": self.chosen})
        return out


def align(
    judge: Judge,
    traces: Sequence[Trace],
    optimizer: AlignmentOptimizer | str | None = None,
    validation: float | None = None,
    seed: int = 0,
    show_progress: bool = True,
    register: Callable[[Judge], Any] | None = None,
    log_verdicts: bool = False,
    policy: str | Path | None = None,
    target_agreement: float | None = None,
    risk: float = 0.1,
) -> AlignmentResult:
    """Align `judge` on `traces` (with `validation`, on all but a stratified held-out fraction), call
    `register` on the new judge, then measure both judges on the held-out traces (storing their verdicts when
    `log_verdicts`), with a loud warning when the new judge does worse. `policy` (text or a file path) gives
    the optimizer the written rules the experts apply. `target_agreement` and `risk`: the aligned judge
    abstains where it cannot keep that agreement (see `accord.align.selective`)."""
    from accord.agreement import compare

    optimizer = optimizer if isinstance(optimizer, AlignmentOptimizer) else load_optimizer(optimizer)
    if policy is not None:
        if not hasattr(optimizer, "policy"):
            raise AlignmentError(f"{type(optimizer).__name__} takes no policy; MemAlign turns a policy into checks")
        optimizer.policy = policy
    if target_agreement is not None:
        if not hasattr(optimizer, "target_agreement"):
            raise AlignmentError(f"{type(optimizer).__name__} cannot abstain; MemAlign's fitted decision can")
        if not (0 < target_agreement < 1 and 0 < risk < 1):
            raise AlignmentError(
                f"target_agreement and risk must be between 0 and 1, not {target_agreement} and {risk}"
            )
        optimizer.target_agreement, optimizer.risk = target_agreement, risk
    traces = list(traces)
    train, held = traces, []
    if validation:
        collect_labels(judge.name, judge.value_type, traces)  # clear errors before splitting
        labelled = [t for t in traces if human_label(t, judge.name) is not None]
        train, held = split_by_label(labelled, judge.name, validation, seed)
        if not held:
            raise AlignmentError(f"validation={validation} leaves no held-out traces among {len(labelled)} labelled")
    started = time.perf_counter()
    aligned = optimizer.align(judge, train)
    seconds = round(time.perf_counter() - started, 1)
    if aligned is judge:
        raise AlignmentError(f"{type(optimizer).__name__}.align returned the input judge; it must return a new one")
    if register is not None:
        register(aligned)
    result = AlignmentResult(aligned, len(train), len(held), None, getattr(aligned, "selection", None) or None, seconds)
    if held:
        result.comparison = compare(judge, aligned, held, log_verdicts=log_verdicts, show_progress=show_progress)
        before, after = result.comparison.before.agreement, result.comparison.after.agreement
        log.info("held-out kappa %.3f -> %.3f", before.cohen_kappa, after.cohen_kappa)
        if result.worse:
            message = (
                f"ALIGNED JUDGE IS WORSE on {len(held)} held-out traces: Cohen's kappa {before.cohen_kappa:.2f} -> "
                f"{after.cohen_kappa:.2f}, accuracy {before.accuracy:.2f} -> {after.accuracy:.2f}. "
                "Check the feedback (reviewer agreement, label balance) before using it."
            )
            log.warning(message)
            warnings.warn(message, AlignmentWorseWarning, stacklevel=3)
    return result
