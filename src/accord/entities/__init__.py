"""The records accord stores and sends: traces, spans, assessments and experiments.

Every model carries a schema version so files and rows written by an older accord stay readable.
"""

from __future__ import annotations

import time
import uuid
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


class AssessmentSourceType(str, Enum):
    HUMAN = "HUMAN"
    LLM_JUDGE = "LLM_JUDGE"
    CODE = "CODE"

    def __str__(self) -> str:  # so `source_type == "HUMAN"` reads naturally in user code
        return self.value


class AssessmentSource(BaseModel):
    model_config = ConfigDict(frozen=True)

    source_type: AssessmentSourceType = AssessmentSourceType.HUMAN
    source_id: str = "default"


class AssessmentError(BaseModel):
    """Why an assessment has no value (for example the judge's model gave no parseable answer)."""

    error_code: str
    error_message: str


class _Assessment(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    schema_version: int = SCHEMA_VERSION
    assessment_id: str = Field(default_factory=lambda: new_id("a"))
    trace_id: str | None = None
    name: str
    value: Any = None
    rationale: str | None = None
    source: AssessmentSource = Field(default_factory=AssessmentSource)
    metadata: dict[str, Any] = Field(default_factory=dict)
    error: AssessmentError | None = None
    create_time_ms: int = Field(default_factory=now_ms)
    last_update_time_ms: int = Field(default_factory=now_ms)
    overrides: str | None = None
    valid: bool = True


class Feedback(_Assessment):
    kind: Literal["feedback"] = "feedback"


class Expectation(_Assessment):
    kind: Literal["expectation"] = "expectation"


Assessment = Feedback | Expectation


class SpanType(str, Enum):
    UNKNOWN = "UNKNOWN"
    CHAIN = "CHAIN"
    LLM = "LLM"
    CHAT_MODEL = "CHAT_MODEL"
    RETRIEVER = "RETRIEVER"
    TOOL = "TOOL"
    AGENT = "AGENT"
    EMBEDDING = "EMBEDDING"
    PARSER = "PARSER"


class Span(BaseModel):
    schema_version: int = SCHEMA_VERSION
    span_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:16])
    parent_id: str | None = None
    name: str
    span_type: str = SpanType.UNKNOWN.value
    inputs: Any = None
    outputs: Any = None
    start_time_ms: int = Field(default_factory=now_ms)
    end_time_ms: int | None = None
    status: Literal["OK", "ERROR", "UNSET"] = "UNSET"
    attributes: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(default_factory=list)


def in_start_order(spans: list[Span]) -> list[Span]:
    """Spans by start time; within one millisecond a parent comes before the spans it started."""
    by_id = {s.span_id: s for s in spans}

    def depth(span: Span) -> int:
        level = 0
        while span.parent_id in by_id and level < 1000:
            span, level = by_id[span.parent_id], level + 1  # type: ignore[index]
        return level

    return sorted(spans, key=lambda s: (s.start_time_ms, depth(s)))


class Trace(BaseModel):
    schema_version: int = SCHEMA_VERSION
    trace_id: str = Field(default_factory=lambda: new_id("tr"))
    experiment_id: str | None = None
    inputs: Any = None
    outputs: Any = None
    spans: list[Span] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    session_id: str | None = None
    request_time_ms: int = Field(default_factory=now_ms)
    execution_time_ms: int | None = None
    status: Literal["OK", "ERROR", "IN_PROGRESS"] = "OK"
    assessments: list[Feedback | Expectation] = Field(default_factory=list)

    def search_assessments(
        self,
        name: str | None = None,
        type: Literal["feedback", "expectation"] | None = None,  # noqa: A002 - mirrors the reference API
        source_type: AssessmentSourceType | str | None = None,
        all: bool = False,  # noqa: A002
    ) -> list[Feedback | Expectation]:
        """Assessments on this trace, newest last; overridden ones only when `all=True`."""
        wanted_source = AssessmentSourceType(str(source_type)) if source_type is not None else None
        found = []
        for assessment in self.assessments:
            if name is not None and assessment.name != name:
                continue
            if type is not None and assessment.kind != type:
                continue
            if wanted_source is not None and assessment.source.source_type != wanted_source:
                continue
            if not all and not assessment.valid:
                continue
            found.append(assessment)
        return sorted(found, key=lambda a: a.create_time_ms)

    @property
    def expectations(self) -> dict[str, Any]:
        """The latest valid value of each expectation, by name."""
        return {e.name: e.value for e in self.search_assessments(type="expectation")}

    @property
    def root_span(self) -> Span | None:
        return next((s for s in self.spans if s.parent_id is None), None)


class Experiment(BaseModel):
    schema_version: int = SCHEMA_VERSION
    experiment_id: str
    name: str
    create_time_ms: int = Field(default_factory=now_ms)
    tags: dict[str, str] = Field(default_factory=dict)
