"""`mlflow.genai.evaluate` in accord: `evaluate(data=..., scorers=..., predict_fn=...)` with `mlflow` replaced.

`data` is a list of dicts, a pandas DataFrame (columns `inputs`, `outputs`, `expectations`, optionally
`trace_id`) or traces. Rows become traces of the active experiment (a row without outputs gets them from
`predict_fn(**inputs)`), every scorer judges every trace, and the result has MLflow's shape: `metrics`
(`<scorer>/mean` over numeric and yes/no verdicts, and `<scorer>/<value>_rate` for categories) and
`tables["eval_results"]` (one row per trace: request, response, expectations and each scorer's value and
rationale). Traces and verdicts stay stored, like MLflow's evaluation run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.entities import Expectation, Feedback, Trace, new_id
from accord.errors import AccordError
from accord.evaluation import EvaluationResult
from accord.evaluation import evaluate as evaluate_traces
from accord.judges import Judge
from accord.metrics import POSITIVE


@dataclass
class GenAIEvaluationResult:
    """What `evaluate` returns: MLflow's `metrics` and `tables["eval_results"]`, plus the verdicts."""

    run_id: str
    metrics: dict[str, float]
    rows: list[dict[str, Any]]
    verdicts: list[Feedback] = field(default_factory=list, repr=False)

    @property
    def tables(self) -> dict[str, Any]:
        return {"eval_results": self.result_df}

    @property
    def result_df(self) -> Any:
        """The rows as a pandas DataFrame when pandas is installed, else as a list of dicts."""
        try:
            import pandas as pd
        except ImportError:
            return self.rows
        return pd.DataFrame(self.rows)


def _records(data: Any) -> list[dict[str, Any]] | list[Trace]:
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
        return list(data.to_dict(orient="records"))
    if isinstance(data, (list, tuple)):
        if all(isinstance(item, Trace) for item in data):
            return list(data)
        if all(isinstance(item, dict) for item in data):
            return list(data)
    raise AccordError(
        "data must be a list of dicts (inputs, outputs, expectations), a pandas DataFrame with those columns, "
        f"or a list of traces; got {type(data).__name__}"
    )


def _traces(records: list[dict[str, Any]], predict_fn: Callable[..., Any] | None) -> list[Trace]:
    traces = []
    for number, row in enumerate(records, start=1):
        inputs = row.get("inputs")
        if inputs is None:
            raise AccordError(f"row {number} of data has no inputs")
        outputs = row.get("outputs")
        if outputs is None:
            if predict_fn is None:
                raise AccordError(f"row {number} of data has no outputs: give them, or a predict_fn that makes them")
            outputs = predict_fn(**inputs) if isinstance(inputs, dict) else predict_fn(inputs)
        expectations = row.get("expectations") or {}
        if not isinstance(expectations, dict):
            raise AccordError(f"row {number}: expectations must be a dict of name -> value")
        trace_id = str(row.get("trace_id") or new_id("tr"))
        trace = Trace(trace_id=trace_id, inputs=inputs, outputs=outputs)
        trace.assessments = [
            Expectation(trace_id=trace_id, name=name, value=value) for name, value in expectations.items()
        ]
        traces.append(trace)
    return traces


def _metrics(judges: Sequence[Judge], verdicts: Sequence[Feedback]) -> dict[str, float]:
    by_name: dict[str, list[Any]] = defaultdict(list)
    for verdict in verdicts:
        if verdict.error is None and verdict.value is not None:
            by_name[verdict.name].append(verdict.value)
    metrics: dict[str, float] = {}
    for judge in judges:
        values = by_name.get(judge.name, [])
        if not values:
            continue
        if all(isinstance(v, (bool, int, float)) for v in values):
            metrics[f"{judge.name}/mean"] = sum(float(v) for v in values) / len(values)
        elif all(isinstance(v, str) and v.lower() in (*POSITIVE, "no", "false", "fail", "0") for v in values):
            metrics[f"{judge.name}/mean"] = sum(v.lower() in POSITIVE for v in values) / len(values)
        else:
            for value, count in Counter(str(v) for v in values).items():
                metrics[f"{judge.name}/{value}_rate"] = count / len(values)
    return metrics


def evaluate(
    data: Any,
    scorers: Sequence[Judge],
    predict_fn: Callable[..., Any] | None = None,
    model_id: str | None = None,
    concurrency: int = 8,
    show_progress: bool = True,
) -> GenAIEvaluationResult:
    """MLflow's `mlflow.genai.evaluate`: score `data` with every scorer; see the module's docstring."""
    from accord.experiments import active_experiment_id
    from accord.store import get_store

    if not scorers:
        raise AccordError("evaluate() needs at least one scorer")
    records = _records(data)
    traces = records if records and isinstance(records[0], Trace) else _traces(records, predict_fn)  # type: ignore[arg-type]
    experiment_id = active_experiment_id()
    store = get_store()
    stored = store.existing_trace_ids([t.trace_id for t in traces])
    fresh = [t for t in traces if t.trace_id not in stored]
    if fresh:
        store.insert_traces(fresh, experiment_id)
    if model_id:
        for trace in traces:
            trace.tags["model_id"] = model_id
    result: EvaluationResult = evaluate_traces(traces, list(scorers), concurrency, show_progress=show_progress)
    verdicts = result.all_verdicts()
    by_trace: dict[str, dict[str, Feedback]] = defaultdict(dict)
    for verdict in verdicts:
        if verdict.trace_id is not None:
            by_trace[verdict.trace_id][verdict.name] = verdict
    rows = []
    for trace in traces:
        row: dict[str, Any] = {
            "trace_id": trace.trace_id,
            "request": trace.inputs,
            "response": trace.outputs,
            "expectations": trace.expectations or None,
        }
        for judge in scorers:
            found = by_trace[trace.trace_id].get(judge.name)
            row[f"{judge.name}/value"] = None if found is None or found.error else found.value
            error = found.error.error_message if found is not None and found.error else None
            row[f"{judge.name}/rationale"] = None if found is None else (found.rationale or error)
        rows.append(row)
    return GenAIEvaluationResult(f"{experiment_id}-{len(verdicts)}", _metrics(scorers, verdicts), rows, verdicts)
