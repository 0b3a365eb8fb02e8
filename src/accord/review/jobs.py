"""Aligning a judge from the review page: in a background thread, one job per judge at a time, with progress.

The job holds out a fifth of the labelled traces, aligns on the rest, registers the new version, then runs
both versions on the held-out traces and stores those verdicts, so the alignment view can show
before/after agreement on traces the alignment never saw.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from accord.align.base import AlignmentError
from accord.align.labels import MIN_EXAMPLES, collect_labels
from accord.align.workflow import align
from accord.judges import Judge
from accord.review.dashboard import labelled_traces

log = logging.getLogger("accord.review")

HELD_OUT = 0.2


@dataclass
class AlignJob:
    experiment_id: str
    judge_ref: str
    state: str = "queued"  # queued | running | done | failed
    stage: str = ""
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.time)
    finished: float | None = None
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "stage": self.stage,
            "done": self.done,
            "total": self.total,
            "seconds": round((self.finished or time.time()) - self.started, 1),
            "result": self.result,
            "error": self.error,
        }


def run_alignment(job: AlignJob, judge: Judge) -> None:
    """Align `judge` on the experiment's feedback, register the result, score both on held-out traces."""
    job.state, job.stage = "running", "reading feedback"
    traces = labelled_traces(job.experiment_id, judge.name)
    labels = collect_labels(judge.name, judge.value_type, traces)  # a clear error when there is too little feedback
    if len(labels.labels) - round(len(labels.labels) * HELD_OUT) < MIN_EXAMPLES:
        raise AlignmentError(
            f"aligning from the review page needs at least {MIN_EXAMPLES} labelled traces to learn from plus a "
            f"fifth held out to measure the result; {judge.name!r} has {len(traces)}: review a few more traces"
        )
    if not judge.version:  # register the judge as it is, so "before" is a version too
        judge.register(experiment_id=job.experiment_id)
    job.stage = f"aligning on the labelled traces ({HELD_OUT:.0%} held out), then scoring both versions on them"

    def register(aligned: Judge) -> None:
        version = aligned.register(name=judge.registered_name or judge.name, experiment_id=job.experiment_id)
        job.result["version"] = f"{aligned.registered_name}@{version}"
        job.stage = f"scoring {judge.key} and {aligned.key} on the held-out traces"

    result = align(judge, traces, validation=HELD_OUT, show_progress=False, register=register, log_verdicts=True)
    assert result.comparison is not None
    job.result["train"] = result.train
    job.total = job.done = 2 * result.held_out
    for label, report in (("before", result.comparison.before), ("after", result.comparison.after)):
        job.result[label] = {"key": report.judge, **report.agreement.to_dict()}
    if result.selection:
        job.result["chosen"] = result.chosen
        job.result["candidates"] = result.selection.get("candidates", [])
    job.stage = "done"


class JobRunner:
    """At most one alignment per (experiment, judge) at a time; finished jobs stay readable."""

    def __init__(self) -> None:
        self._jobs: dict[tuple[str, str], AlignJob] = {}
        self._lock = threading.Lock()

    def get(self, experiment_id: str, judge_ref: str) -> AlignJob | None:
        with self._lock:
            return self._jobs.get((experiment_id, judge_ref))

    def start(self, experiment_id: str, judge_ref: str, judge: Judge) -> AlignJob:
        with self._lock:
            current = self._jobs.get((experiment_id, judge_ref))
            if current is not None and current.state in ("queued", "running"):
                return current
            job = self._jobs[(experiment_id, judge_ref)] = AlignJob(experiment_id, judge_ref)
        threading.Thread(target=self._run, args=(job, judge), daemon=True, name="accord-align").start()
        return job

    @staticmethod
    def _run(job: AlignJob, judge: Judge) -> None:
        try:
            run_alignment(job, judge)
            job.state = "done"
        except Exception as exc:  # shown on the page; the server keeps running
            log.exception("alignment from the review page failed")
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = time.time()
