"""MLflow's trace and assessment entities to accord's and back. Ids are kept, so a second import of the
same traces is incremental and verdicts exported back land on the traces they judged."""

from __future__ import annotations

import json
from typing import Any

from accord.entities import (
    AssessmentError,
    AssessmentSource,
    AssessmentSourceType,
    Expectation,
    Feedback,
    Span,
    Trace,
)

SESSION_KEY = "mlflow.trace.session"
_SPAN_IO = ("mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.spanType", "mlflow.traceRequestId")
MAX_TAG_KEY, MAX_TAG_VALUE = 250, 1000


def _source_type(value: Any) -> AssessmentSourceType:
    """MLflow's HUMAN, LLM_JUDGE and CODE stay what they are; anything else (unspecified) is CODE, never an
    expert's label."""
    text = str(getattr(value, "value", value) or "").upper()
    return AssessmentSourceType(text) if text in AssessmentSourceType.__members__ else AssessmentSourceType.CODE


def assessment_from_mlflow(assessment: Any, trace_id: str) -> Feedback | Expectation:
    source = getattr(assessment, "source", None)
    error = getattr(assessment, "error", None)
    is_expectation = type(assessment).__name__ == "Expectation"
    fields: dict[str, Any] = {
        "trace_id": trace_id,
        "name": assessment.name,
        "value": getattr(assessment, "value", None),
        "rationale": getattr(assessment, "rationale", None) or None,
        "source": AssessmentSource(
            source_type=_source_type(getattr(source, "source_type", None)),
            source_id=str(getattr(source, "source_id", None) or "default"),
        ),
        "metadata": dict(getattr(assessment, "metadata", None) or {}),
        "valid": bool(getattr(assessment, "valid", True) if getattr(assessment, "valid", None) is not None else True),
        "overrides": getattr(assessment, "overrides", None),
    }
    if getattr(assessment, "assessment_id", None):
        fields["assessment_id"] = assessment.assessment_id
    for key in ("create_time_ms", "last_update_time_ms"):
        if getattr(assessment, key, None):
            fields[key] = int(getattr(assessment, key))
    if error is not None and not is_expectation:
        fields["error"] = AssessmentError(
            error_code=str(getattr(error, "error_code", None) or "ERROR"),
            error_message=str(getattr(error, "error_message", None) or error),
        )
    return Expectation(**fields) if is_expectation else Feedback(**fields)


def _status(value: Any) -> str:
    text = str(getattr(value, "status_code", value) or "")
    text = str(getattr(text, "value", text)).upper()
    return "OK" if "OK" in text else "ERROR" if "ERROR" in text else "UNSET"


def span_from_mlflow(span: Any) -> Span:
    attributes = {k: v for k, v in (getattr(span, "attributes", None) or {}).items() if k not in _SPAN_IO}
    start = int(getattr(span, "start_time_ns", 0) or 0) // 1_000_000
    end = getattr(span, "end_time_ns", None)
    events = [
        {
            "name": getattr(e, "name", ""),
            "time_ms": int(getattr(e, "timestamp", 0) or 0) // 1_000_000,
            "attributes": dict(getattr(e, "attributes", None) or {}),
        }
        for e in getattr(span, "events", None) or []
    ]
    return Span(
        span_id=span.span_id,
        parent_id=span.parent_id,
        name=span.name or "span",
        span_type=str(getattr(span, "span_type", None) or "UNKNOWN"),
        inputs=getattr(span, "inputs", None),
        outputs=getattr(span, "outputs", None),
        start_time_ms=start,
        end_time_ms=int(end) // 1_000_000 if end else None,
        status=_status(getattr(span, "status", None)),  # type: ignore[arg-type]
        attributes=json.loads(json.dumps(attributes, default=str)),
        events=events,
    )


def trace_from_mlflow(trace: Any) -> Trace:
    info = trace.info
    trace_id = info.trace_id
    spans = [span_from_mlflow(s) for s in (trace.data.spans if trace.data else [])]
    root = next((s for s in spans if s.parent_id is None), None)
    metadata = dict(getattr(info, "trace_metadata", None) or getattr(info, "request_metadata", None) or {})
    state = str(getattr(getattr(info, "state", None), "value", getattr(info, "state", "OK")) or "OK").upper()
    tags = {
        str(k)[:MAX_TAG_KEY]: str(v)[:MAX_TAG_VALUE]
        for k, v in (getattr(info, "tags", None) or {}).items()
        if not str(k).startswith("mlflow.")  # MLflow's own bookkeeping (artifact locations, sizes)
    }
    return Trace(
        trace_id=trace_id,
        inputs=root.inputs if root else None,
        outputs=root.outputs if root else None,
        spans=spans,
        tags=tags,
        session_id=metadata.get(SESSION_KEY),
        request_time_ms=int(getattr(info, "request_time", None) or getattr(info, "timestamp_ms", 0) or 0),
        execution_time_ms=getattr(info, "execution_duration", None) or getattr(info, "execution_time_ms", None),
        status="OK" if state == "OK" else "ERROR" if state == "ERROR" else "IN_PROGRESS",
        assessments=[assessment_from_mlflow(a, trace_id) for a in getattr(info, "assessments", None) or []],
    )


def feedback_to_mlflow(verdict: Feedback, extra_metadata: dict[str, str]) -> Any:
    """An accord verdict as an MLflow Feedback (metadata values must be strings there)."""
    from mlflow.entities import AssessmentError as MlflowError
    from mlflow.entities import AssessmentSource as MlflowSource
    from mlflow.entities import Feedback as MlflowFeedback

    metadata = {str(k): v if isinstance(v, str) else json.dumps(v, default=str) for k, v in verdict.metadata.items()}
    metadata.update(extra_metadata)
    error = None
    if verdict.error is not None:
        error = MlflowError(error_code=verdict.error.error_code, error_message=verdict.error.error_message)
    return MlflowFeedback(
        name=verdict.name,
        value=None if error else verdict.value,
        rationale=verdict.rationale,
        error=error,
        source=MlflowSource(source_type=str(verdict.source.source_type), source_id=verdict.source.source_id),
        metadata=metadata,
    )
