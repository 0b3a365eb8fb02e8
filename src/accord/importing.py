"""Import traces and feedback from the generic traces JSONL (or Parquet with the same columns): all lines
land, or none and a list of every rejected line (or row) with its number, field and reason."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from accord.entities import (
    AssessmentSource,
    AssessmentSourceType,
    Expectation,
    Feedback,
    Span,
    Trace,
    now_ms,
)
from accord.errors import AccordError, InputFileError
from accord.label_schemas import checked_label
from accord.parquet_files import is_parquet, read_rows
from accord.store import get_store
from accord.text_safety import unencodable


class SourceRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: AssessmentSourceType = AssessmentSourceType.HUMAN
    id: str = "import"


class _StorableText(BaseModel):
    """A record whose raw data is refused, naming the field, when it holds text that cannot be stored."""

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        found = unencodable(data) if isinstance(data, dict) else None
        if found:
            raise ValueError(f"{found}, which cannot be stored as text")
        return data


class AssessmentRecord(_StorableText):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    value: Any = None
    rationale: str | None = None
    source: SourceRecord = Field(default_factory=SourceRecord)
    metadata: dict[str, Any] = Field(default_factory=dict)
    kind: Literal["feedback", "expectation"] = "feedback"

    def to_entity(self, trace_id: str) -> Feedback | Expectation:
        cls = Feedback if self.kind == "feedback" else Expectation
        return cls(
            trace_id=trace_id,
            name=self.name,
            value=self.value,
            rationale=self.rationale or None,
            source=AssessmentSource(source_type=self.source.type, source_id=self.source.id),
            metadata=self.metadata,
        )


class TraceRecord(_StorableText):
    model_config = ConfigDict(extra="forbid")
    trace_id: str = Field(min_length=1, max_length=256)
    inputs: Any = None
    outputs: Any = None
    response_a: Any = None  # the pair form: two responses to the same inputs, for pairwise judges
    response_b: Any = None
    expectations: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, Any] = Field(default_factory=dict)
    session_id: str | None = None
    spans: list[Span] = Field(default_factory=list)
    request_time_ms: int | None = Field(default=None, ge=0, le=2**63 - 1)
    execution_time_ms: int | None = Field(default=None, ge=0, le=2**63 - 1)
    status: Literal["OK", "ERROR", "IN_PROGRESS"] = "OK"
    assessments: list[AssessmentRecord] = Field(default_factory=list)

    @model_validator(mode="after")
    def _pair(self) -> TraceRecord:
        if self.response_a is None and self.response_b is None:
            return self
        if self.response_a is None or self.response_b is None:
            raise ValueError("a pair needs both response_a and response_b")
        if self.outputs is not None:
            raise ValueError("give outputs, or the pair response_a and response_b, not both")
        self.outputs = {"response_a": self.response_a, "response_b": self.response_b}
        return self

    @field_validator("tags")
    @classmethod
    def _flat_tags(cls, tags: dict[str, Any]) -> dict[str, Any]:
        for key, value in tags.items():
            if isinstance(value, (dict, list)):
                raise ValueError(f"tag {key!r} must be a string, number or boolean")
        return tags


class FeedbackRecord(AssessmentRecord):
    trace_id: str = Field(min_length=1)


@dataclass
class ImportReport:
    path: str
    imported: int = 0
    skipped: list[str] = field(default_factory=list)
    replaced: int = 0
    assessments: int = 0
    experiment_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "imported": self.imported,
            "skipped": len(self.skipped),
            "replaced": self.replaced,
            "assessments": self.assessments,
            "experiment_id": self.experiment_id,
        }


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered non-blank lines, read as bytes and decoded one by one, so a line that is not UTF-8 is named
    by its number."""
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InputFileError(
                        str(path), [(number, "(line)", f"not UTF-8 text: {exc.reason} at byte {exc.start + 1}")], number
                    ) from None
                if line.strip():
                    yield number, line
    except OSError as exc:
        raise InputFileError(str(path), [(0, "(file)", exc.strerror or str(exc))], 0) from None


class _Unparseable(str):
    """Why a line is not JSON, in place of its object."""


def _objects(path: Path) -> Iterator[tuple[int, Any]]:
    """(line or row number, parsed object or `_Unparseable`) of a JSONL or Parquet file."""
    if is_parquet(path):
        for number, row in read_rows(path):
            if isinstance(row, str):
                yield number, _Unparseable(row)
                continue
            if "source_type" in row or "source_id" in row:  # flat columns, as `accord feedback export` writes
                row["source"] = {"type": row.pop("source_type", "HUMAN"), "id": row.pop("source_id", "import")}
            for written_by_export in (
                "assessment_id",
                "judge_key",
                "error_code",
                "error_message",
                "valid",
                "create_time_ms",
            ):
                row.pop(written_by_export, None)
            yield number, row
        return
    for number, line in _lines(path):
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, _Unparseable(f"not valid JSON: {exc.msg} at column {exc.colno}")
        except RecursionError:
            yield number, _Unparseable("JSON nested too deep to read")


def _read_records(path: Path, model: type[BaseModel]) -> tuple[list[tuple[int, Any]], list[tuple[int, str, str]], int]:
    records: list[tuple[int, Any]] = []
    problems: list[tuple[int, str, str]] = []
    total = 0
    for number, data in _objects(path):
        total += 1
        if isinstance(data, _Unparseable):
            problems.append((number, "(line)", str(data)))
            continue
        if not isinstance(data, dict):
            problems.append((number, "(line)", f"expected a JSON object, got {type(data).__name__}"))
            continue
        try:
            records.append((number, model.model_validate(data)))
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"]) or "(line)"
                problems.append((number, where, err["msg"]))
    if total == 0 and not problems:
        problems.append((0, "(file)", "the file has no records"))
    return records, problems, total


def _to_trace(record: TraceRecord, trace_id: str, tags: dict[str, str], default_time: int) -> Trace:
    assessments = [a.to_entity(trace_id) for a in record.assessments]
    assessments += [
        Expectation(trace_id=trace_id, name=name, value=value, source=AssessmentSource(source_id="import"))
        for name, value in record.expectations.items()
    ]
    return Trace(
        trace_id=trace_id,
        inputs=record.inputs,
        outputs=record.outputs,
        spans=record.spans,
        tags=tags,
        session_id=record.session_id,
        # keep file order as time order when the file has no timestamps
        request_time_ms=record.request_time_ms or default_time,
        execution_time_ms=record.execution_time_ms,
        status=record.status,
        assessments=assessments,
    )


def read_traces(path: str | Path) -> list[Trace]:
    """Traces from a traces JSONL or Parquet file without storing them (`accord judges run --input`); every
    bad line is named, and duplicate ids are refused."""
    path = Path(path)
    records, problems, total = _read_records(path, TraceRecord)
    seen: dict[str, int] = {}
    for number, record in records:
        if record.trace_id in seen:
            problems.append((number, "trace_id", f"duplicate of line {seen[record.trace_id]}: {record.trace_id!r}"))
        seen.setdefault(record.trace_id, number)
    if problems:
        raise InputFileError(str(path), sorted(problems), total)
    base_time = now_ms()
    return [
        _to_trace(record, record.trace_id, {k: str(v) for k, v in record.tags.items()}, base_time + offset)
        for offset, (_, record) in enumerate(records)
    ]


def import_traces(
    path: str | Path,
    experiment: str,
    on_conflict: Literal["error", "skip", "replace", "new-ids"] = "error",
    discard_labels: bool = False,
) -> ImportReport:
    """Import traces (with their assessments and expectations) into `experiment`, in one transaction.

    `on_conflict` decides what happens to a trace id already stored: "error" (the default) rejects those
    lines, "skip" leaves the stored trace alone, "replace" overwrites it, and "new-ids" imports a copy under
    a fresh id that keeps the original in the tag `source_trace_id`. Replacing a trace deletes its
    assessments, so replacing traces an expert labelled is refused unless `discard_labels` says so."""
    path = Path(path)
    records, problems, total = _read_records(path, TraceRecord)
    seen: dict[str, int] = {}
    for number, record in records:
        if record.trace_id in seen:
            problems.append((number, "trace_id", f"duplicate of line {seen[record.trace_id]}: {record.trace_id!r}"))
        seen.setdefault(record.trace_id, number)
    store = get_store()
    existing = store.existing_trace_ids(list(seen)) if on_conflict != "new-ids" else set()
    if on_conflict == "error":
        for number, record in records:
            if record.trace_id in existing:
                problems.append(
                    (
                        number,
                        "trace_id",
                        f"{record.trace_id!r} is already stored (use --on-conflict skip|replace|new-ids)",
                    )
                )
    if problems:
        raise InputFileError(str(path), sorted(problems), total)
    if on_conflict == "replace" and existing and not discard_labels:
        labelled = sorted(store.human_labelled_trace_ids(sorted(existing)))
        if labelled:
            shown = ", ".join(repr(i) for i in labelled[:5]) + (" ..." if len(labelled) > 5 else "")
            raise AccordError(
                f"{path}: replacing would delete the expert labels on {len(labelled)} stored traces ({shown}); "
                "nothing was imported. Import them as copies with --on-conflict new-ids, or pass --discard-labels "
                "(discard_labels=True) to replace them and delete those labels"
            )
    exp = store.get_or_create_experiment(experiment)
    report = ImportReport(path=str(path), experiment_id=exp.experiment_id)
    traces: list[Trace] = []
    base_time = now_ms()
    for offset, (_, record) in enumerate(records):
        trace_id, tags = record.trace_id, {k: str(v) for k, v in record.tags.items()}
        if on_conflict == "skip" and trace_id in existing:
            report.skipped.append(trace_id)
            continue
        if on_conflict == "new-ids":
            tags.setdefault("source_trace_id", trace_id)
            trace_id = f"{trace_id}-{uuid.uuid4().hex[:8]}"
        trace = _to_trace(record, trace_id, tags, base_time + offset)
        trace.experiment_id = exp.experiment_id
        traces.append(trace)
        report.assessments += len(trace.assessments)
    report.replaced = sum(1 for t in traces if t.trace_id in existing) if on_conflict == "replace" else 0
    store.insert_traces(traces, exp.experiment_id, replace=on_conflict == "replace")
    report.imported = len(traces)
    return report


def import_feedback(path: str | Path) -> ImportReport:
    """Add assessments to stored traces by trace_id, in one transaction; unknown ids reject their lines."""
    path = Path(path)
    records, problems, total = _read_records(path, FeedbackRecord)
    store = get_store()
    existing = store.existing_trace_ids(list({r.trace_id for _, r in records}))
    for number, record in records:
        if record.trace_id not in existing:
            problems.append((number, "trace_id", f"no stored trace with id {record.trace_id!r}"))
    items = []
    for number, record in records:
        item = record.to_entity(record.trace_id)
        human = isinstance(item, Feedback) and item.source.source_type == "HUMAN" and item.error is None
        if record.trace_id in existing and human:
            try:  # an expert's label outside the label schema its experiment declares is refused, by line
                item.value = checked_label(record.trace_id, item.name, item.value)
            except ValueError as exc:
                problems.append((number, "value", str(exc)))
        items.append(item)
    if problems:
        raise InputFileError(str(path), sorted(problems), total)
    store.log_assessments(items)
    return ImportReport(path=str(path), assessments=len(items))
