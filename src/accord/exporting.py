"""Export an experiment's traces, or its feedback and verdicts, as JSONL or Parquet (by the file's suffix),
in the columns `accord traces import` and `accord feedback import` read back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accord.entities import Expectation, Feedback, Trace
from accord.parquet_files import is_parquet, write_rows
from accord.store import get_store

TRACE_JSON_COLUMNS = ("inputs", "outputs", "expectations", "tags", "spans", "assessments")
VERDICT_JSON_COLUMNS = ("value", "metadata")


def trace_row(trace: Trace) -> dict[str, Any]:
    """A trace in the traces JSONL's columns; its valid assessments, expectations by name."""
    data = trace.model_dump(mode="json", exclude={"schema_version", "experiment_id", "assessments"})
    data["expectations"] = trace.expectations
    data["assessments"] = [
        {
            "name": a.name,
            "value": a.value,
            "rationale": a.rationale,
            "source": {"type": a.source.source_type.value, "id": a.source.source_id},
            "metadata": a.metadata,
            "kind": a.kind,
        }
        for a in trace.search_assessments()
        if a.kind == "feedback"
    ]
    return data


def verdict_row(assessment: Feedback | Expectation) -> dict[str, Any]:
    """One feedback a row: the feedback JSONL's columns, its source flat, plus its id, judge key and error."""
    return {
        "trace_id": assessment.trace_id,
        "assessment_id": assessment.assessment_id,
        "kind": assessment.kind,
        "name": assessment.name,
        "value": assessment.value,
        "rationale": assessment.rationale,
        "source_type": assessment.source.source_type.value,
        "source_id": assessment.source.source_id,
        "judge_key": assessment.metadata.get("judge_key"),
        "error_code": assessment.error.error_code if assessment.error else None,
        "error_message": assessment.error.error_message if assessment.error else None,
        "valid": assessment.valid,
        "create_time_ms": assessment.create_time_ms,
        "metadata": assessment.metadata,
    }


def _write(rows: list[dict[str, Any]], json_columns: Sequence[str], path: Path) -> int:
    if is_parquet(path):
        write_rows(rows, json_columns, path)
    else:
        temporary = path.with_name(f".{path.name}.partial")
        temporary.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
        temporary.replace(path)
    return len(rows)


def export_traces(experiment: str, path: str | Path) -> int:
    """Every trace of the experiment, oldest first, with its feedback and expectations."""
    store = get_store()
    found = store.resolve_experiment(experiment)
    traces = store.get_traces(store.search_trace_ids([found.experiment_id], newest_first=False))
    return _write([trace_row(t) for t in traces], TRACE_JSON_COLUMNS, Path(path))


def export_feedback(experiment: str, path: str | Path, name: str | None = None, source_type: str | None = None) -> int:
    """The experiment's feedback (judges' verdicts and people's labels), oldest first, one a row."""
    store = get_store()
    found = store.resolve_experiment(experiment)
    items = [
        a
        for a in store.search_assessments([found.experiment_id], name=name, source_type=source_type)
        if a.kind == "feedback"
    ]
    return _write([verdict_row(a) for a in items], VERDICT_JSON_COLUMNS, Path(path))
