"""What one evaluation run does: the (judge, trace) items, which of them still need a verdict, and judging one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.config import default_model
from accord.entities import AssessmentError, AssessmentSource, Experiment, Feedback, Trace
from accord.judges import Judge
from accord.store import get_store


@dataclass
class EvaluationResult:
    verdicts: list[Feedback] = field(default_factory=list)  # made in this run
    reused: list[Feedback] = field(default_factory=list)  # already stored, by an earlier or a concurrent run
    interrupted: bool = False
    waited_for_others: int = 0  # traces another run of the same judge was judging when this one reached them

    @property
    def errors(self) -> list[Feedback]:
        return [v for v in self.verdicts if v.error is not None]

    def all_verdicts(self) -> list[Feedback]:
        return self.reused + self.verdicts

    def summary(self) -> dict[str, Any]:
        return {"new": len(self.verdicts), "reused": len(self.reused), "errors": len(self.errors)}


@dataclass
class WorkItem:
    judge: Judge
    trace: Trace
    session: list[Trace] | None = None
    overrides: str | None = None


def resolve_traces(source: Sequence[Trace] | str | Experiment) -> list[Trace]:
    """Traces given directly, or every trace of an experiment (by name, id or object), oldest first."""
    if isinstance(source, (str, Experiment)):
        store = get_store()
        experiment = source if isinstance(source, Experiment) else store.resolve_experiment(source)
        ids = store.search_trace_ids([experiment.experiment_id], newest_first=False)
        return store.get_traces(ids)
    return list(source)


def work_items(judge: Judge, traces: list[Trace]) -> list[WorkItem]:
    if not judge.is_session_level:
        return [WorkItem(judge, t) for t in traces]
    sessions: dict[str, list[Trace]] = defaultdict(list)
    for trace in traces:
        sessions[trace.session_id or trace.trace_id].append(trace)
    items = []
    for turns in sessions.values():
        turns.sort(key=lambda t: t.request_time_ms)
        items.append(WorkItem(judge, turns[-1], session=turns))  # the verdict goes on the last turn
    return items


def pending_items(judge: Judge, items: list[WorkItem], reused: list[Feedback]) -> list[WorkItem]:
    """Items without a good verdict from this judge key; errored verdicts are retried and overridden."""
    stored = get_store().search_assessments(
        name=judge.name,
        source_type=judge.source_type.value,
        trace_ids=[i.trace.trace_id for i in items],
        include_invalid=True,
    )
    good: dict[str, Feedback] = {}
    errored: dict[str, str] = {}
    for verdict in stored:
        if verdict.kind != "feedback" or verdict.metadata.get("judge_key") != judge.key:
            continue
        if verdict.error is None:
            good[verdict.trace_id or ""] = verdict  # type: ignore[assignment]
        elif verdict.valid:
            errored[verdict.trace_id or ""] = verdict.assessment_id
    todo = []
    for item in items:
        if item.trace.trace_id in good:
            reused.append(good[item.trace.trace_id])
        else:
            item.overrides = errored.get(item.trace.trace_id)
            todo.append(item)
    return todo


def judge_item(item: WorkItem) -> Feedback:
    try:
        given = item.judge.gather(trace=item.trace, session=item.session)
        verdict = item.judge.judge(given)
    except Exception as exc:  # any failure on one trace is stored as that trace's error: the batch goes on
        verdict = Feedback(
            trace_id=item.trace.trace_id,
            name=item.judge.name,
            source=AssessmentSource(
                source_type=item.judge.source_type,
                source_id=item.judge.model
                or (default_model() if item.judge.source_type == "LLM_JUDGE" else item.judge.name),
            ),
            error=AssessmentError(error_code=type(exc).__name__, error_message=str(exc)),
            metadata={"judge": item.judge.name, "judge_key": item.judge.key},
        )
    verdict.trace_id = item.trace.trace_id
    verdict.overrides = item.overrides
    verdict.metadata.setdefault("judge_key", item.judge.key)  # what the run's claim on it is released by
    return verdict
