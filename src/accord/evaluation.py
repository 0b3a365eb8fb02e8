"""Run judges over many traces concurrently and log every verdict; safe to interrupt and run again.

A verdict is stored with the judge's key (name@version, or name#fingerprint when unregistered). A re-run
skips every trace that already has a good verdict from the same judge key, and replaces errored verdicts
by new ones that record which verdict they override: nothing is duplicated, nothing is lost.

Two runs of the same judge at once (two processes, one experiment) share the work instead of doing it
twice: a run claims traces in the store a chunk at a time before judging them, and waits at the end for
the traces another run holds, until their verdicts are stored or that run's claims lapse (it died).
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict, deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from accord.config import default_model
from accord.entities import (
    AssessmentError,
    AssessmentSource,
    Experiment,
    Feedback,
    Trace,
)
from accord.errors import RunStopped
from accord.judges import Judge
from accord.progress import PROGRESS_CONSOLE
from accord.store import get_store

FLUSH_EVERY = 200
FLUSH_SECONDS = 1.0
STOP_AFTER_UNREACHABLE = 5  # verdicts in a row that could not reach the model: the run stops
CLAIM_LEASE_S = 60.0  # a claim not renewed for this long lapses: the run that held it is gone
CLAIM_CHUNK = 32  # traces claimed at a time (at least twice the concurrency)


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


class _WorkQueue:
    """The items of one run, claimed a chunk at a time (when verdicts are logged). An item another run holds
    is set aside; `retry_held()` takes it over once that run has stored its verdict (then it is reused) or its
    claim lapsed."""

    def __init__(self, items: list[WorkItem], result: EvaluationResult, claiming: bool, chunk: int) -> None:
        self._todo = deque(items)
        self._ready: deque[WorkItem] = deque()
        self.held: list[WorkItem] = []
        self.result = result
        self.claiming = claiming
        self.chunk = chunk
        self.owner = uuid.uuid4().hex
        self._renewed = time.monotonic()

    def next(self) -> WorkItem | None:
        while not self._ready and self._todo:
            self._take([self._todo.popleft() for _ in range(min(self.chunk, len(self._todo)))])
        return self._ready.popleft() if self._ready else None

    def _take(self, items: list[WorkItem]) -> None:
        if not self.claiming:
            self._ready.extend(items)
            return
        store = get_store()
        by_judge: dict[str, list[WorkItem]] = defaultdict(list)
        for item in items:
            by_judge[item.judge.key].append(item)
        for key, group in by_judge.items():
            mine = store.claim_traces(key, [i.trace.trace_id for i in group], self.owner, CLAIM_LEASE_S)
            self.held += [i for i in group if i.trace.trace_id not in mine]
            claimed = [i for i in group if i.trace.trace_id in mine]
            still = pending_items(group[0].judge, claimed, self.result.reused)  # another run may have finished some
            left = {i.trace.trace_id for i in still}
            done = [(key, i.trace.trace_id) for i in claimed if i.trace.trace_id not in left]
            if done:
                store.release_claims(self.owner, done)
            self._ready.extend(still)

    def retry_held(self) -> None:
        items, self.held = self.held, []
        self._take(items)

    def renew(self) -> None:
        if self.claiming and time.monotonic() - self._renewed > CLAIM_LEASE_S / 4:
            get_store().renew_claims(self.owner, CLAIM_LEASE_S)
            self._renewed = time.monotonic()

    def release(self, verdicts: Sequence[Feedback]) -> None:
        if self.claiming and verdicts:
            get_store().release_claims(
                self.owner, [(v.metadata.get("judge_key", ""), v.trace_id or "") for v in verdicts]
            )

    def release_all(self) -> None:
        if self.claiming:
            get_store().release_claims(self.owner)


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


def evaluate(
    traces_or_experiment: Sequence[Trace] | str | Experiment,
    judges: Sequence[Judge],
    concurrency: int = 8,
    log_verdicts: bool = True,
    show_progress: bool = True,
    engine: str = "threads",
    address: str | None = None,
) -> EvaluationResult:
    """Run every judge on every trace (session judges once per session) and log each verdict as
    LLM_JUDGE feedback (CODE feedback for code-based scorers). Ctrl-C stops early; every verdict
    finished by then is stored.

    `engine="ray"` runs the judges in Ray Data actors instead of this process's threads (`address`: a
    running cluster's, default a local one); `concurrency` is then the number of actors."""
    if not judges:
        raise ValueError("evaluate() needs at least one judge")
    if engine == "ray":
        from accord.evaluation_ray import evaluate_on_ray

        return evaluate_on_ray(
            traces_or_experiment,
            judges,
            address,
            actors=concurrency,
            log_verdicts=log_verdicts,
            show_progress=show_progress,
        )
    if engine != "threads":
        raise ValueError(f"engine must be 'threads' or 'ray', not {engine!r}")
    traces = resolve_traces(traces_or_experiment)
    result = EvaluationResult()
    items: list[WorkItem] = []
    for judge in judges:
        items += (
            pending_items(judge, work_items(judge, traces), result.reused)
            if log_verdicts
            else work_items(judge, traces)
        )
    reused_before = len(result.reused)  # stored before the run started: not part of its progress
    buffer: list[Feedback] = []
    last_flush = time.monotonic()
    # traces given as objects may not be stored; their verdicts are returned but cannot be logged
    stored = get_store().existing_trace_ids([t.trace_id for t in traces]) if log_verdicts else set()
    work = _WorkQueue(items, result, claiming=log_verdicts and bool(stored), chunk=max(CLAIM_CHUNK, 2 * concurrency))

    def flush() -> None:
        nonlocal last_flush
        loggable = [v for v in buffer if v.trace_id in stored]
        if loggable:
            get_store().log_assessments(loggable)
        work.release(loggable)
        buffer.clear()
        last_flush = time.monotonic()

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not show_progress,
        transient=False,
        console=PROGRESS_CONSOLE,
    )
    executor = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="accord-judge")
    try:
        with progress:
            task = progress.add_task("judging", total=len(items))
            running: set[Future[Feedback]] = set()

            def submit_more() -> None:  # keep at most 2x concurrency submitted so Ctrl-C stops promptly
                while len(running) < 2 * concurrency and (item := work.next()) is not None:
                    running.add(executor.submit(judge_item, item))

            submit_more()
            unreachable = 0  # verdicts in a row whose model could not be reached
            while running or work.held:
                if not running:  # only traces another run is judging are left: wait for it
                    flush()
                    result.waited_for_others = max(result.waited_for_others, len(work.held))
                    progress.update(task, description=f"waiting for another run on {len(work.held)} traces")
                    time.sleep(1.0)
                    work.retry_held()
                    submit_more()
                    continue
                done, running = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    verdict = future.result()
                    result.verdicts.append(verdict)
                    buffer.append(verdict)
                    lost = verdict.error is not None and verdict.error.error_code == "MODEL_UNREACHABLE"
                    unreachable = unreachable + 1 if lost else 0
                    if unreachable >= STOP_AFTER_UNREACHABLE:
                        executor.shutdown(wait=False, cancel_futures=True)
                        flush()
                        raise RunStopped(
                            f"stopped: {unreachable} verdicts in a row could not reach the model "
                            f"({verdict.error.error_message}); the {len(result.verdicts)} verdicts finished are "
                            "stored, and a re-run continues where this one stopped"
                        )
                submit_more()
                work.renew()
                progress.update(task, completed=len(result.verdicts) + len(result.reused) - reused_before)
                if len(buffer) >= FLUSH_EVERY or time.monotonic() - last_flush > FLUSH_SECONDS:
                    flush()
    except KeyboardInterrupt:
        result.interrupted = True
        executor.shutdown(wait=False, cancel_futures=True)
        flush()
        raise
    finally:
        flush()
        executor.shutdown(wait=False, cancel_futures=True)
        work.release_all()
    return result
