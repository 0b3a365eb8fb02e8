"""Verdicts on Ray (`pip install 'accord[ray]'`): the runner the driver feeds when `engine="ray"`.

- Each actor rebuilds the judges from their JSON specs once and holds one model handle per model, so a
  local model loads once per actor; calls inside an actor run on a few threads (`threads_per_actor`).
- A 429 pauses every actor: the pause is kept by one small Ray actor that all of them ask before a call.
- Everything else (claims and their renewal, batched writes, the stop when the model is unreachable, waiting
  for traces another run holds) is the driver's, the same as on threads.

Actors need accord importable where they run: on a cluster, install it there or pass a `runtime_env`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

from accord.config import settings
from accord.entities import AssessmentError, AssessmentSource, Feedback, Trace
from accord.errors import ConfigError
from accord.evaluation.work import WorkItem, judge_item
from accord.judges import Judge

GATE_NAME = "accord-rate-gate"
NAMESPACE = "accord"


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

    # detached: it outlives the run that made it, so the next run (or another driver) never gets a handle to an
    # actor that is dying because the last run's handles went away; it holds no CPU and a few numbers
    return RateGateActor.options(name=GATE_NAME, namespace=NAMESPACE, get_if_exists=True, lifetime="detached").remote()


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
    """One Ray actor: the judges rebuilt once from their specs, one verdict per call, a few calls at a time
    (`max_concurrency`: judging waits on models far more than it computes)."""

    def __init__(self, judges: list[dict[str, Any]], environment: dict[str, str], gate: Any) -> None:
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

    def judge(self, index: int, trace: str, session: str, overrides: str) -> str:
        item = WorkItem(
            self.judges[index],
            Trace.model_validate_json(trace),
            [Trace.model_validate(t) for t in json.loads(session)] if session else None,
            overrides or None,
        )
        return judge_item(item).model_dump_json()


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


class RayRunner:
    """Verdicts computed in Ray actors (`engine="ray"`), one item per call, handed out as the driver asks.
    The actors live for one run: each loads the judges' models once."""

    label = "judging on Ray"

    def __init__(self, judges: Sequence[Judge], address: str | None, actors: int, threads_per_actor: int = 4) -> None:
        self._ray = _connect(address)
        self._gate = _gate(self._ray)
        remote = self._ray.remote(JudgeActor).options(num_cpus=0.5, max_concurrency=max(1, threads_per_actor))
        entries, environment = _judge_entries(judges), _environment()
        self._actors = [remote.remote(entries, environment, self._gate) for _ in range(max(1, actors))]
        self._index = {id(j): i for i, j in enumerate(judges)}
        self._running: dict[Any, WorkItem] = {}  # object ref -> its item
        self._turn = 0
        self.capacity = 2 * len(self._actors) * max(1, threads_per_actor)

    def submit(self, item: WorkItem) -> None:
        actor = self._actors[self._turn % len(self._actors)]
        self._turn += 1
        session = json.dumps([t.model_dump(mode="json") for t in item.session]) if item.session else ""
        ref = actor.judge.remote(
            self._index[id(item.judge)], item.trace.model_dump_json(), session, item.overrides or ""
        )
        self._running[ref] = item

    def in_flight(self) -> int:
        return len(self._running)

    def finished(self, timeout: float) -> list[Feedback]:
        if not self._running:
            return []
        refs = list(self._running)
        ready, rest = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = self._ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        verdicts = []
        for ref in ready:
            item = self._running.pop(ref)
            try:
                verdicts.append(Feedback.model_validate_json(self._ray.get(ref)))
            except Exception as exc:  # the actor died: that item is an errored verdict, retried by a re-run
                verdicts.append(_lost(item, exc))
        return verdicts

    def close(self) -> None:
        for ref in self._running:
            try:
                self._ray.cancel(ref)
            except Exception:  # already finished or its actor is gone
                pass
        self._running.clear()
        for actor in self._actors:
            self._ray.kill(actor)


def _lost(item: WorkItem, exc: Exception) -> Feedback:
    return Feedback(
        trace_id=item.trace.trace_id,
        name=item.judge.name,
        source=AssessmentSource(source_type=item.judge.source_type, source_id=item.judge.model or item.judge.name),
        error=AssessmentError(error_code="WORKER_LOST", error_message=f"the Ray worker failed: {exc}"),
        overrides=item.overrides,
        metadata={"judge": item.judge.name, "judge_key": item.judge.key},
    )
