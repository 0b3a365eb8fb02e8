"""MLflow in and out (`pip install 'accord[mlflow]'`): import traces with their spans and assessments from
an MLflow tracking server or local store, log a judge's verdicts back as MLflow feedback, and wrap a judge
as a scorer that `mlflow.genai.evaluate` runs.

    from accord.integrations import mlflow as accord_mlflow
    accord_mlflow.import_traces("http://127.0.0.1:5000", "support")       # incremental: ids are kept
    accord_mlflow.export_verdicts("support", "policy@2", "http://127.0.0.1:5000", "support")
    mlflow.genai.evaluate(data=..., scorers=[accord_mlflow.as_scorer(aligned_judge)])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from accord.entities import AssessmentSourceType, Feedback, Trace
from accord.errors import ConfigError, NotFoundError
from accord.integrations.mlflow_entities import feedback_to_mlflow, trace_from_mlflow
from accord.judges import Judge
from accord.progress import PROGRESS_CONSOLE
from accord.store import get_store

PAGE_SIZE = 200
ACCORD_TRACE_TAG = "accord.trace_id"  # on MLflow traces made by an export, naming the accord trace
ACCORD_ASSESSMENT_KEY = "accord.assessment_id"  # in exported feedback's metadata: exported once only


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise ConfigError("MLflow interop needs the mlflow package: pip install 'accord[mlflow]'") from exc
    return mlflow


def _client(tracking_uri: str) -> Any:
    return _mlflow().MlflowClient(tracking_uri=tracking_uri)


def _experiment_id(client: Any, name_or_id: str, create: bool = False) -> str:
    found = client.get_experiment_by_name(name_or_id)
    if found is None:
        try:
            found = client.get_experiment(name_or_id)
        except Exception:  # MLflow raises its own error for an unknown id
            found = None
    if found is not None:
        return str(found.experiment_id)
    if create:
        return str(client.create_experiment(name_or_id))
    known = ", ".join(e.name for e in client.search_experiments(max_results=50)) or "none"
    raise NotFoundError(f"no MLflow experiment {name_or_id!r} at {client.tracking_uri} (known: {known})")


@dataclass
class MlflowImportReport:
    tracking_uri: str
    mlflow_experiment: str
    experiment_id: str
    imported: int = 0
    already_stored: int = 0
    assessments: int = 0
    skipped: list[str] = field(default_factory=list)  # traces MLflow could not give in full

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracking_uri": self.tracking_uri,
            "mlflow_experiment": self.mlflow_experiment,
            "experiment_id": self.experiment_id,
            "imported": self.imported,
            "already_stored": self.already_stored,
            "assessments": self.assessments,
            "skipped": self.skipped,
        }


def _pages(client: Any, experiment_id: str, max_results: int | None) -> Any:
    token, seen = None, 0
    while max_results is None or seen < max_results:
        size = PAGE_SIZE if max_results is None else min(PAGE_SIZE, max_results - seen)
        page = client.search_traces(
            locations=[experiment_id], max_results=size, page_token=token, order_by=["timestamp_ms ASC"]
        )
        seen += len(page)
        yield list(page)
        token = getattr(page, "token", None)
        if not token or not page:
            return


def import_traces(
    tracking_uri: str,
    mlflow_experiment: str,
    experiment: str | None = None,
    max_results: int | None = None,
    show_progress: bool = False,
) -> MlflowImportReport:
    """Traces of an MLflow experiment, with spans, inputs, outputs and assessments (feedback and
    expectations with their source type and id, rationale and value), into `experiment` (default: the
    same name). A trace already stored is not imported again; assessments added to it in MLflow since are."""
    from rich.progress import Progress

    client = _client(tracking_uri)
    source_id = _experiment_id(client, mlflow_experiment)
    store = get_store()
    target = store.get_or_create_experiment(experiment or mlflow_experiment)
    report = MlflowImportReport(tracking_uri, mlflow_experiment, target.experiment_id)
    with Progress(console=PROGRESS_CONSOLE, disable=not show_progress, transient=True) as progress:
        task = progress.add_task("importing from MLflow", total=max_results)
        for page in _pages(client, source_id, max_results):
            traces = []
            for found in page:
                try:
                    traces.append(trace_from_mlflow(found))
                except (AttributeError, TypeError, ValueError) as exc:
                    report.skipped.append(f"{getattr(found.info, 'trace_id', '?')}: {exc}")
            existing = store.existing_trace_ids([t.trace_id for t in traces])
            new = [t for t in traces if t.trace_id not in existing]
            store.insert_traces(new, target.experiment_id)
            report.imported += len(new)
            report.assessments += sum(len(t.assessments) for t in new)
            report.already_stored += len(existing)
            report.assessments += _add_new_assessments([t for t in traces if t.trace_id in existing])
            progress.advance(task, len(page))
    return report


def _add_new_assessments(traces: list[Trace]) -> int:
    """Assessments logged in MLflow on traces imported before (matched by their ids)."""
    if not traces:
        return 0
    store = get_store()
    stored = {
        a.assessment_id for a in store.search_assessments(trace_ids=[t.trace_id for t in traces], include_invalid=True)
    }
    new = [a for t in traces for a in t.assessments if a.assessment_id not in stored]
    store.log_assessments(new)
    return len(new)


@dataclass
class MlflowExportReport:
    exported: int = 0
    already_exported: int = 0
    traces_created: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "exported": self.exported,
            "already_exported": self.already_exported,
            "traces_created": self.traces_created,
        }


def _mlflow_trace_ids(client: Any, experiment_id: str) -> tuple[set[str], dict[str, str]]:
    """The MLflow experiment's trace ids, and accord trace id -> MLflow trace id for traces an export made."""
    ids: set[str] = set()
    made: dict[str, str] = {}
    for page in _pages(client, experiment_id, None):
        for found in page:
            ids.add(found.info.trace_id)
            tag = (found.info.tags or {}).get(ACCORD_TRACE_TAG)
            if tag:
                made[tag] = found.info.trace_id
    return ids, made


def _exported_ids(client: Any, trace_id: str) -> set[str]:
    found = client.get_trace(trace_id)
    return {(a.metadata or {}).get(ACCORD_ASSESSMENT_KEY, "") for a in (found.info.assessments or []) if a.metadata}


def _create_mlflow_trace(client: Any, experiment_id: str, trace: Trace) -> str:
    """A trace in MLflow for an accord trace that did not come from there (its inputs and outputs)."""
    root = client.start_trace(
        name=(trace.root_span.name if trace.root_span else "trace"),
        inputs=trace.inputs if isinstance(trace.inputs, dict) else {"inputs": trace.inputs},
        experiment_id=experiment_id,
        tags={ACCORD_TRACE_TAG: trace.trace_id},
    )
    client.end_trace(root.trace_id, outputs=trace.outputs)
    return str(root.trace_id)


def export_verdicts(experiment: str, judge: Judge, tracking_uri: str, mlflow_experiment: str) -> MlflowExportReport:
    """Log `judge`'s stored verdicts on `experiment` to MLflow as feedback (source LLM_JUDGE, the judge's
    name and version in metadata). Traces imported from MLflow get them directly; others are created there
    first. A verdict already exported is not exported again."""
    from mlflow.tracing.client import TracingClient

    client = _client(tracking_uri)
    tracing = TracingClient(tracking_uri=tracking_uri)
    target = _experiment_id(client, mlflow_experiment, create=True)
    store = get_store()
    source = store.resolve_experiment(experiment)
    verdicts = [
        v
        for v in store.search_assessments(
            experiment_ids=[source.experiment_id], name=judge.name, source_type=AssessmentSourceType.LLM_JUDGE.value
        )
        if isinstance(v, Feedback) and v.metadata.get("judge_key") == judge.key
    ]
    report = MlflowExportReport()
    if not verdicts:
        return report
    known, made = _mlflow_trace_ids(client, target)
    traces = {t.trace_id: t for t in store.get_traces(sorted({v.trace_id or "" for v in verdicts}))}
    extra = {"accord.judge": judge.name, "accord.judge_key": judge.key}
    if judge.version:
        extra["accord.judge_version"] = str(judge.version)
    for verdict in verdicts:
        trace_id = verdict.trace_id or ""
        mlflow_id = trace_id if trace_id in known else made.get(trace_id)
        if mlflow_id is None:
            mlflow_id = made[trace_id] = _create_mlflow_trace(client, target, traces[trace_id])
            report.traces_created += 1
        elif verdict.assessment_id in _exported_ids(client, mlflow_id):
            report.already_exported += 1
            continue
        tracing.log_assessment(
            mlflow_id, feedback_to_mlflow(verdict, {**extra, ACCORD_ASSESSMENT_KEY: verdict.assessment_id})
        )
        report.exported += 1
    return report


def as_scorer(judge: Judge) -> Callable[..., Any]:
    """The judge as an MLflow scorer, for `mlflow.genai.evaluate(..., scorers=[as_scorer(judge)])`."""
    _mlflow()
    from mlflow.entities import AssessmentError as MlflowError
    from mlflow.entities import AssessmentSource as MlflowSource
    from mlflow.entities import Feedback as MlflowFeedback
    from mlflow.genai.scorers import scorer

    def judge_it(inputs: Any = None, outputs: Any = None, expectations: Any = None, trace: Any = None) -> Any:
        converted = trace_from_mlflow(trace) if trace is not None else None
        if converted is not None and inputs is None and outputs is None:
            verdict = judge(trace=converted, expectations=expectations)
        else:
            verdict = judge(inputs=inputs, outputs=outputs, expectations=expectations, trace=converted)
        error = None
        if verdict.error is not None:
            error = MlflowError(error_code=verdict.error.error_code, error_message=verdict.error.error_message)
        return MlflowFeedback(
            name=judge.name,
            value=None if error else verdict.value,
            rationale=verdict.rationale,
            error=error,
            source=MlflowSource(source_type="LLM_JUDGE", source_id=verdict.source.source_id),
            metadata={"accord.judge_key": judge.key},
        )

    judge_it.__name__ = judge.name
    return scorer(name=judge.name)(judge_it)
