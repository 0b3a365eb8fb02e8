"""The fluent functions of the reference workflow: get and search traces, log feedback and expectations."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from accord.entities import (
    AssessmentError,
    AssessmentSource,
    AssessmentSourceType,
    Expectation,
    Feedback,
    Trace,
)
from accord.experiments import active_experiment_id
from accord.label_schemas import checked_label
from accord.store import get_store

_FILTER_TERM = re.compile(r"^\s*(tags|tag|assessments?|feedback)\.([\w.\-]+)\s*=\s*(['\"])(.*)\3\s*$", re.I)


def get_trace(trace_id: str) -> Trace:
    """The trace with its assessments; `NotFoundError` when there is none with that id."""
    return get_store().get_trace(trace_id)


def delete_traces(trace_ids: Sequence[str]) -> int:
    """Delete traces and their assessments (explicitly: nothing else in accord deletes data)."""
    return get_store().delete_traces(list(trace_ids))


def _parse_filter(filter_string: str) -> tuple[dict[str, str], str | None, str | None]:
    """`tags.topic = 'returns' AND assessments.name = 'x'` → tags, assessment name, source type."""
    tags: dict[str, str] = {}
    name = source = None
    for term in re.split(r"\s+and\s+", filter_string.strip(), flags=re.I):
        match = _FILTER_TERM.match(term)
        if not match:
            raise ValueError(
                f"cannot read filter term {term!r}; use tags.KEY = 'VALUE', assessments.name = 'NAME' "
                "or assessments.source_type = 'HUMAN', joined with AND"
            )
        field, key, _, value = match.groups()
        if field.lower().startswith("tag"):
            tags[key] = value
        elif key == "name":
            name = value
        elif key == "source_type":
            source = value.upper()
        else:
            raise ValueError(f"unknown assessment field {key!r} in filter; use name or source_type")
    return tags, name, source


def search_traces(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: Sequence[str] | None = None,
    return_type: str = "list",
    *,
    experiment_names: Sequence[str] | None = None,
    tags: dict[str, str] | None = None,
    assessment_name: str | None = None,
    assessment_source_type: AssessmentSourceType | str | None = None,
    session_id: str | None = None,
) -> Any:
    """Traces with their assessments, newest first unless `order_by=["timestamp ASC"]`: a list, or with
    `return_type="pandas"` a DataFrame with MLflow's columns (trace_id, request, response, expectations,
    assessments, tags, trace). `experiment_names` may name the experiments instead of their ids."""
    if return_type not in ("list", "traces", "pandas"):
        raise ValueError(f"return_type must be 'list' or 'pandas', not {return_type!r}")
    if experiment_names:
        store = get_store()
        experiment_ids = [
            *(experiment_ids or []),
            *(store.resolve_experiment(n).experiment_id for n in experiment_names),
        ]
    all_tags = dict(tags or {})
    if filter_string:
        parsed_tags, parsed_name, parsed_source = _parse_filter(filter_string)
        all_tags.update(parsed_tags)
        assessment_name = assessment_name or parsed_name
        assessment_source_type = assessment_source_type or parsed_source
    newest_first = not any(o.strip().upper().endswith("ASC") for o in (order_by or []))
    store = get_store()
    ids = store.search_trace_ids(
        experiment_ids=list(experiment_ids) if experiment_ids else [active_experiment_id()],
        tags=all_tags,
        assessment_name=assessment_name,
        assessment_source_type=str(assessment_source_type) if assessment_source_type else None,
        session_id=session_id,
        max_results=max_results,
        newest_first=newest_first,
    )
    traces = store.get_traces(ids)
    return _as_dataframe(traces) if return_type == "pandas" else traces


def _as_dataframe(traces: list[Trace]) -> Any:
    try:
        import pandas as pd
    except ImportError as exc:
        raise ValueError("return_type='pandas' needs pandas: pip install pandas") from exc
    return pd.DataFrame(
        [
            {
                "trace_id": t.trace_id,
                "request": t.inputs,
                "response": t.outputs,
                "expectations": t.expectations,
                "assessments": [a.model_dump(mode="json") for a in t.assessments],
                "tags": dict(t.tags),
                "request_time": t.request_time_ms,
                "execution_duration": t.execution_time_ms,
                "state": t.status,
                "trace": t,
            }
            for t in traces
        ],
        columns=[
            "trace_id",
            "request",
            "response",
            "expectations",
            "assessments",
            "tags",
            "request_time",
            "execution_duration",
            "state",
            "trace",
        ],
    )


def _source(source: AssessmentSource | None, default: AssessmentSourceType) -> AssessmentSource:
    return source if source is not None else AssessmentSource(source_type=default, source_id="default")


def log_feedback(
    trace_id: str,
    name: str = "feedback",
    value: Any = None,
    rationale: str | None = None,
    source: AssessmentSource | None = None,
    metadata: dict[str, Any] | None = None,
    error: AssessmentError | Exception | None = None,
    overrides: str | None = None,
) -> Feedback:
    """Log feedback on a trace. Without `source` it is recorded as CODE feedback from source id "default", as
    MLflow's `log_feedback` does: the reference workflow logs the judge's own verdict that way, and it must
    never count as an expert's label. Experts' labels name their source (`AssessmentSourceType.HUMAN`).

    A HUMAN feedback on a trace that already has a valid LLM_JUDGE verdict of the same name records that
    it overrides it; the verdict stays stored, marked as overridden. Where the trace's experiment declares a
    label schema for `name` (`accord.set_label_schema`), a HUMAN value outside it raises `ValueError`."""
    source = _source(source, AssessmentSourceType.CODE)
    if isinstance(error, Exception):
        error = AssessmentError(error_code=type(error).__name__, error_message=str(error))
    store = get_store()
    if source.source_type == AssessmentSourceType.HUMAN and error is None:
        value = checked_label(trace_id, name, value)  # a declared label schema refuses values outside it
    if overrides is None and source.source_type == AssessmentSourceType.HUMAN:
        verdicts = store.search_assessments(
            name=name, source_type=AssessmentSourceType.LLM_JUDGE.value, trace_ids=[trace_id]
        )
        verdicts = [v for v in verdicts if v.kind == "feedback"]
        if verdicts and verdicts[-1].value != value:
            overrides = verdicts[-1].assessment_id
    feedback = Feedback(
        trace_id=trace_id,
        name=name,
        value=value,
        rationale=rationale,
        source=source,
        metadata=metadata or {},
        error=error,
        overrides=overrides,
    )
    store.log_assessments([feedback])
    return feedback


def log_expectation(
    trace_id: str,
    name: str,
    value: Any,
    source: AssessmentSource | None = None,
    metadata: dict[str, Any] | None = None,
) -> Expectation:
    """Log the expected answer (or facts, or guidelines) for a trace."""
    expectation = Expectation(
        trace_id=trace_id,
        name=name,
        value=value,
        source=_source(source, AssessmentSourceType.HUMAN),
        metadata=metadata or {},
    )
    get_store().log_assessments([expectation])
    return expectation


def log_assessments(assessments: Sequence[Feedback | Expectation]) -> None:
    """Log many assessments in one transaction (all land, or none and an error naming the trace)."""
    get_store().log_assessments(list(assessments))
