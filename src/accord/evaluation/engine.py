"""`evaluate()`: every judge on every trace, on threads or Ray, each verdict logged; safe to interrupt and run
again.

A verdict is stored with the judge's key (name@version, or name#fingerprint when unregistered). A re-run
skips every trace that already has a good verdict from the same judge key, and replaces errored verdicts
by new ones that record which verdict they override: nothing is duplicated, nothing is lost.

Two runs of the same judge at once (two processes, one experiment, threads or Ray) share the work instead
of doing it twice: a run claims traces in the store a chunk at a time before judging them, renews its
claims while it lives, and waits at the end for the traces another run holds, until their verdicts are
stored or that run's claims lapse (it died).
"""

from __future__ import annotations

from collections.abc import Sequence

from accord.entities import Experiment, Trace
from accord.evaluation.claims import WorkQueue
from accord.evaluation.driver import drive
from accord.evaluation.runners import Runner, ThreadRunner
from accord.evaluation.sinks import NoSink, Sink, StoreSink
from accord.evaluation.work import EvaluationResult, WorkItem, pending_items, resolve_traces, work_items
from accord.judges import Judge
from accord.store import get_store

ENGINES = ("threads", "ray")


def make_runner(
    engine: str, judges: Sequence[Judge], concurrency: int, address: str | None, threads_per_actor: int = 4
) -> Runner:
    """Threads in this process, or Ray actors (`concurrency` of them, each judging `threads_per_actor` items
    at a time, on the cluster at `address`, default a local one)."""
    if engine == "ray":
        from accord.evaluation.on_ray import RayRunner

        return RayRunner(judges, address or None, actors=concurrency, threads_per_actor=threads_per_actor)
    if engine != "threads":
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    return ThreadRunner(concurrency)


def evaluate(
    traces_or_experiment: Sequence[Trace] | str | Experiment,
    judges: Sequence[Judge],
    concurrency: int = 8,
    log_verdicts: bool = True,
    show_progress: bool = True,
    engine: str = "threads",
    address: str | None = None,
    threads_per_actor: int = 4,
) -> EvaluationResult:
    """Run every judge on every trace (session judges once per session) and log each verdict as
    LLM_JUDGE feedback (CODE feedback for code-based scorers). Ctrl-C stops early; every verdict
    finished by then is stored.

    `engine="ray"` runs the judges in Ray actors instead of this process's threads (`address`: a running
    cluster's, default a local one); `concurrency` is then the number of actors, each judging
    `threads_per_actor` traces at a time."""
    if not judges:
        raise ValueError("evaluate() needs at least one judge")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    traces = resolve_traces(traces_or_experiment)
    result = EvaluationResult()
    items: list[WorkItem] = []
    for judge in judges:
        found = work_items(judge, traces)
        items += pending_items(judge, found, result.reused) if log_verdicts else found
    if not items:
        return result
    # traces given as objects may not be stored; their verdicts are returned but cannot be logged
    stored = get_store().existing_trace_ids([t.trace_id for t in traces]) if log_verdicts else set()
    runner = make_runner(engine, judges, concurrency, address, threads_per_actor)
    work = WorkQueue(items, result, claiming=log_verdicts and bool(stored), chunk=runner.capacity)
    sink: Sink = StoreSink(stored, work) if log_verdicts else NoSink()
    drive(work, runner, sink, show_progress)
    return result
