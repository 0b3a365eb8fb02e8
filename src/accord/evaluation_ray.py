"""Bulk evaluation on Ray (`pip install 'accord[ray]'`): judges run in Ray Data actors over an
experiment's traces, or over traces in files that never enter the store.

- Each actor rebuilds the judges from their JSON specs once and holds one model handle per model, so a
  local model loads once per actor; calls inside an actor run on a few threads (`threads_per_actor`).
- A 429 pauses every actor: the pause is kept by one small Ray actor that all of them ask before a call.
- Verdicts come back to the driver and are written in batches (to the store, or as Parquet part files), so
  a re-run skips what was written, exactly as the thread-pool engine does.
- Work is claimed in the store as the thread-pool engine claims it, so a Ray run and another run of the
  same judge version never judge the same trace twice.

Actors need accord importable where they run: on a cluster, install it there or pass a `runtime_env`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from accord.config import settings
from accord.entities import Experiment, Feedback, Trace
from accord.errors import ConfigError
from accord.evaluation import (
    CLAIM_LEASE_S,
    EvaluationResult,
    WorkItem,
    judge_item,
    pending_items,
    resolve_traces,
    work_items,
)
from accord.judges import Judge
from accord.progress import PROGRESS_CONSOLE
from accord.store import get_store

GATE_NAME = "accord-rate-gate"
NAMESPACE = "accord"
WRITE_EVERY = 200  # verdicts per store transaction or Parquet part file


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("the Ray engine needs Ray: pip install 'accord[ray]'") from exc
    return ray


def _connect(address: str | None) -> Any:
    ray = _ray()
    if not ray.is_initialized():
        ray.init(
            address=address,
            namespace=NAMESPACE,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            ignore_reinit_error=True,
        )
    return ray


def _gate(ray: Any) -> Any:
    """The cluster's one rate gate (a named actor, made on first use)."""

    @ray.remote(num_cpus=0)
    class RateGateActor:
        def __init__(self) -> None:
            self.until: dict[str, float] = {}

        def pause(self, endpoint: str, seconds: float) -> None:
            self.until[endpoint] = max(self.until.get(endpoint, 0.0), time.time() + seconds)

        def resume_at(self, endpoint: str) -> float:
            return self.until.get(endpoint, 0.0)

    return RateGateActor.options(name=GATE_NAME, namespace=NAMESPACE, get_if_exists=True).remote()


class _RayRateGate:
    """`accord.llm.model.RateGate` backed by the gate actor, for calls made inside Ray actors."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def wait(self, endpoint: str) -> None:
        import ray

        while (delay := ray.get(self.handle.resume_at.remote(endpoint)) - time.time()) > 0:
            time.sleep(min(delay, 1.0))

    def pause(self, endpoint: str, seconds: float) -> None:
        import ray

        ray.get(self.handle.pause.remote(endpoint, seconds))


class JudgeActor:
    """One Ray Data actor: the judges rebuilt once, verdicts for a batch of rows."""

    def __init__(self, judges: list[dict[str, Any]], environment: dict[str, str], threads: int, gate: Any) -> None:
        from accord.config import reload_settings
        from accord.judges import judge_from_dict
        from accord.llm.model import set_rate_gate

        os.environ.update(environment)  # this worker's process: the driver's accord settings
        reload_settings()
        self.judges = []
        for entry in judges:
            judge = judge_from_dict(entry["spec"], trusted=True)  # the driver already loaded (and allowed) it
            judge.version, judge.registered_name = entry["version"], entry["registered_name"]
            self.judges.append(judge)
        set_rate_gate(_RayRateGate(gate))
        self.threads = max(1, threads)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        items = [
            WorkItem(
                self.judges[int(index)],
                Trace.model_validate_json(trace),
                [Trace.model_validate(t) for t in json.loads(session)] if session else None,
                overrides or None,
            )
            for index, trace, session, overrides in zip(
                batch["judge"], batch["trace"], batch["session"], batch["overrides"], strict=True
            )
        ]
        with ThreadPoolExecutor(max_workers=min(self.threads, len(items)) or 1) as pool:
            verdicts = list(pool.map(judge_item, items))
        return {"verdict": [v.model_dump_json() for v in verdicts]}


def _judge_entries(judges: Sequence[Judge]) -> list[dict[str, Any]]:
    return [{"spec": j.to_dict(), "version": j.version, "registered_name": j.registered_name} for j in judges]


def _environment() -> dict[str, str]:
    """The settings actors need, as environment variables (workers do not share the driver's)."""
    current = settings()
    env = {
        "ACCORD_DEFAULT_MODEL": current.default_model,
        "ACCORD_CACHE_DIR": str(current.cache_dir),
        "ACCORD_NO_CACHE": "0" if current.use_cache else "1",
        "ACCORD_MAX_RETRIES": str(current.max_retries),
        "ACCORD_RETRY_BASE_DELAY": str(current.retry_base_delay_s),
    }
    if current.cache_ttl_s:
        env["ACCORD_CACHE_TTL"] = str(current.cache_ttl_s)
    if current.max_concurrency:
        env["ACCORD_MAX_CONCURRENCY"] = str(current.max_concurrency)
    return env


def _rows(judges: Sequence[Judge], items: Sequence[WorkItem]) -> list[dict[str, Any]]:
    index = {id(j): i for i, j in enumerate(judges)}
    return [
        {
            "judge": index[id(item.judge)],
            "trace": item.trace.model_dump_json(),
            "session": json.dumps([t.model_dump(mode="json") for t in item.session]) if item.session else "",
            "overrides": item.overrides or "",
        }
        for item in items
    ]


def verdicts_on_ray(
    judges: Sequence[Judge],
    items: Sequence[WorkItem],
    actors: int,
    threads_per_actor: int,
    batch_size: int,
    address: str | None,
) -> Iterator[Feedback]:
    """Verdicts for the items as the actors finish them."""
    ray = _connect(address)
    gate = _gate(ray)  # held here for the whole run: the actor lives as long as a handle does
    dataset = ray.data.from_items(_rows(judges, items))
    judged = dataset.map_batches(
        JudgeActor,
        fn_constructor_kwargs={
            "judges": _judge_entries(judges),
            "environment": _environment(),
            "threads": threads_per_actor,
            "gate": gate,
        },
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=0.5,  # judging waits on models far more than it computes
    )
    for batch in judged.iter_batches(batch_size=None, batch_format="default"):
        for text in batch["verdict"]:
            yield Feedback.model_validate_json(str(text))


def progress_bar(show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]judging on Ray"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not show,
        console=PROGRESS_CONSOLE,
    )


def evaluate_on_ray(
    traces_or_experiment: Sequence[Trace] | str | Experiment,
    judges: Sequence[Judge],
    address: str | None = None,
    actors: int = 2,
    threads_per_actor: int = 4,
    batch_size: int = 16,
    log_verdicts: bool = True,
    show_progress: bool = True,
) -> EvaluationResult:
    """`accord.evaluate(..., engine="ray")`: every judge on every trace in Ray actors; verdicts stored in
    batches as they come, so an interrupted run loses at most a batch and a re-run skips what was stored."""
    traces = resolve_traces(traces_or_experiment)
    result = EvaluationResult()
    store = get_store()
    items: list[WorkItem] = []
    for judge in judges:
        work = work_items(judge, traces)
        items += pending_items(judge, work, result.reused) if log_verdicts else work
    stored = store.existing_trace_ids([t.trace_id for t in traces]) if log_verdicts else set()
    owner = uuid.uuid4().hex
    if log_verdicts and stored:
        held: list[WorkItem] = []
        for judge in judges:
            mine = [i for i in items if i.judge is judge]
            claimed = store.claim_traces(judge.key, [i.trace.trace_id for i in mine], owner, CLAIM_LEASE_S * 10)
            held += [i for i in mine if i.trace.trace_id not in claimed]
        items = [i for i in items if i not in held]
        result.waited_for_others = len(held)  # another run is judging these: left to it
    if not items:
        return result
    buffer: list[Feedback] = []

    def flush() -> None:
        loggable = [v for v in buffer if v.trace_id in stored]
        if loggable:
            store.log_assessments(loggable)
            store.release_claims(owner, [(v.metadata.get("judge_key", ""), v.trace_id or "") for v in loggable])
        buffer.clear()

    try:
        with progress_bar(show_progress) as progress:
            task = progress.add_task("judging", total=len(items))
            for verdict in verdicts_on_ray(judges, items, actors, threads_per_actor, batch_size, address or None):
                result.verdicts.append(verdict)
                buffer.append(verdict)
                progress.advance(task)
                if len(buffer) >= WRITE_EVERY:
                    flush()
    except KeyboardInterrupt:
        result.interrupted = True
        raise
    finally:
        flush()
        if log_verdicts and stored:
            store.release_claims(owner)
    return result
