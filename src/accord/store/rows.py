"""Conversions between entities and table rows."""

from __future__ import annotations

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
from accord.text_safety import refuse_unencodable


def trace_to_row(trace: Trace, experiment_id: str) -> dict[str, Any]:
    spans = [s.model_dump(mode="json") for s in trace.spans]
    refuse_unencodable(
        f"trace {trace.trace_id!r}",
        trace_id=trace.trace_id,
        inputs=trace.inputs,
        outputs=trace.outputs,
        spans=spans,
        tags=dict(trace.tags),
        session_id=trace.session_id,
    )
    return {
        "trace_id": trace.trace_id,
        "experiment_id": experiment_id,
        "session_id": trace.session_id,
        "request_time_ms": trace.request_time_ms,
        "execution_time_ms": trace.execution_time_ms,
        "status": trace.status,
        "inputs": trace.inputs,
        "outputs": trace.outputs,
        "spans": spans,
        "tags": dict(trace.tags),
        "schema_version": trace.schema_version,
    }


def row_to_trace(row: Any, assessments: list[Feedback | Expectation]) -> Trace:
    return Trace.model_construct(
        schema_version=row.schema_version,
        trace_id=row.trace_id,
        experiment_id=row.experiment_id,
        inputs=row.inputs,
        outputs=row.outputs,
        spans=[Span.model_validate(s) for s in row.spans],
        tags=dict(row.tags),
        session_id=row.session_id,
        request_time_ms=row.request_time_ms,
        execution_time_ms=row.execution_time_ms,
        status=row.status,
        assessments=assessments,
    )


def assessment_to_row(a: Feedback | Expectation) -> dict[str, Any]:
    refuse_unencodable(
        f"{a.kind} {a.name!r} on trace {a.trace_id!r}",
        name=a.name,
        value=a.value,
        rationale=a.rationale,
        metadata=a.metadata,
        source_id=a.source.source_id,
    )
    return {
        "assessment_id": a.assessment_id,
        "trace_id": a.trace_id,
        "kind": a.kind,
        "name": a.name,
        "value": a.value,
        "rationale": a.rationale,
        "source_type": a.source.source_type.value,
        "source_id": a.source.source_id,
        "meta": a.metadata,
        "error": a.error.model_dump() if a.error else None,
        "overrides": a.overrides,
        "valid": a.valid,
        "create_time_ms": a.create_time_ms,
        "last_update_time_ms": a.last_update_time_ms,
        "schema_version": a.schema_version,
    }


def row_to_assessment(row: Any) -> Feedback | Expectation:
    cls = Feedback if row.kind == "feedback" else Expectation
    return cls.model_construct(
        schema_version=row.schema_version,
        assessment_id=row.assessment_id,
        trace_id=row.trace_id,
        name=row.name,
        value=row.value,
        rationale=row.rationale,
        source=AssessmentSource(source_type=AssessmentSourceType(row.source_type), source_id=row.source_id),
        metadata=dict(row.meta or {}),
        error=AssessmentError(**row.error) if row.error else None,
        create_time_ms=row.create_time_ms,
        last_update_time_ms=row.last_update_time_ms,
        overrides=row.overrides,
        valid=row.valid,
        kind=row.kind,
    )
