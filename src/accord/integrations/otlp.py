"""OpenTelemetry traces in: OTLP JSON (a collector's file exporter, Phoenix or Langfuse exports) and the
requests `accord traces serve-otlp` receives, mapped to accord's traces and spans.

What the common semantic conventions say is read into the span's fields; every other attribute is kept:
- inputs / outputs: OpenInference `input.value` / `output.value` (JSON when it parses), its flattened
  `llm.input_messages.N.message.*` / `llm.output_messages.N.message.*`, GenAI `gen_ai.input.messages` /
  `gen_ai.output.messages` (and the older `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`), Langfuse
  `langfuse.observation.input` / `output`;
- the span type: `openinference.span.kind`, else `gen_ai.operation.name`;
- the model and token counts as `model` and `usage` attributes (`llm.*` or `gen_ai.*`);
- the session: `session.id`, `gen_ai.conversation.id` or `langfuse.session.id`.
Spans of one trace may come in several requests: each batch is merged into the stored trace by span id.
"""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from accord.entities import Span, Trace, in_start_order
from accord.errors import InputFileError
from accord.store import get_store

IdEncoding = Literal["hex", "base64"]  # OTLP/JSON writes ids in hex; protobuf bytes read as dicts are base64

_SPAN_KINDS = {
    "LLM": "LLM",
    "CHAIN": "CHAIN",
    "RETRIEVER": "RETRIEVER",
    "RERANKER": "RETRIEVER",
    "TOOL": "TOOL",
    "AGENT": "AGENT",
    "EMBEDDING": "EMBEDDING",
    "GUARDRAIL": "CHAIN",
    "EVALUATOR": "CHAIN",
}
_GENAI_OPERATIONS = {
    "chat": "CHAT_MODEL",
    "text_completion": "LLM",
    "generate_content": "LLM",
    "embeddings": "EMBEDDING",
    "execute_tool": "TOOL",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
}
_INPUT_KEYS = (
    "input.value",
    "gen_ai.input.messages",
    "gen_ai.prompt",
    "langfuse.observation.input",
    "langfuse.trace.input",
)
_OUTPUT_KEYS = (
    "output.value",
    "gen_ai.output.messages",
    "gen_ai.completion",
    "langfuse.observation.output",
    "langfuse.trace.output",
)
_SESSION_KEYS = ("session.id", "gen_ai.conversation.id", "langfuse.session.id")
_FLATTENED = {  # prefix of indexed message attributes -> (which side, field prefix inside each item)
    "llm.input_messages.": ("inputs", "message."),
    "llm.output_messages.": ("outputs", "message."),
    "gen_ai.prompt.": ("inputs", ""),
    "gen_ai.completion.": ("outputs", ""),
}
_INDEXED = re.compile(r"^(\d+)\.(.+)$")


def _value(value: dict[str, Any]) -> Any:
    """An OTLP AnyValue as plain data."""
    if not isinstance(value, dict):
        return value
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_value(v) for v in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return _attributes((value["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _attributes(items: Iterable[dict[str, Any]] | None) -> dict[str, Any]:
    if items is not None and not isinstance(items, list):
        raise ValueError(f"attributes must be a list, not {type(items).__name__}")
    return {
        str(item["key"]): _value(item.get("value") or {})
        for item in items or []
        if isinstance(item, dict) and "key" in item
    }


def _nanos(value: Any, what: str) -> int:
    nanos = int(value or 0)
    if not 0 <= nanos <= MAX_NANOS:
        raise ValueError(f"{what} {nanos} is not a time in nanoseconds since 1970")
    return nanos


def _id(raw: Any, encoding: IdEncoding) -> str | None:
    if not raw:
        return None
    text = str(raw)
    if encoding == "base64":
        return base64.b64decode(text).hex() or None
    return text.lower()


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _unflatten(attributes: dict[str, Any]) -> tuple[dict[str, list[dict[str, Any]]], set[str]]:
    """Indexed message attributes (`llm.input_messages.0.message.content`) as lists of messages."""
    found: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    used: set[str] = set()
    for key, value in attributes.items():
        for prefix, (side, inner) in _FLATTENED.items():
            if not key.startswith(prefix):
                continue
            match = _INDEXED.match(key[len(prefix) :])
            if not match:
                continue
            index, rest = int(match.group(1)), match.group(2)
            found[side].setdefault(index, {})[rest.removeprefix(inner)] = value
            used.add(key)
    return {side: [items[i] for i in sorted(items)] for side, items in found.items()}, used


def _span_type(attributes: dict[str, Any]) -> str:
    kind = str(attributes.get("openinference.span.kind") or "").upper()
    if kind in _SPAN_KINDS:
        return _SPAN_KINDS[kind]
    operation = str(attributes.get("gen_ai.operation.name") or "").lower()
    return _GENAI_OPERATIONS.get(operation, "UNKNOWN")


def _usage(attributes: dict[str, Any]) -> dict[str, int]:
    pairs = {
        "prompt_tokens": ("llm.token_count.prompt", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        "completion_tokens": (
            "llm.token_count.completion",
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
        ),
        "total_tokens": ("llm.token_count.total", "gen_ai.usage.total_tokens"),
    }
    usage = {}
    for name, keys in pairs.items():
        value = next((attributes[k] for k in keys if attributes.get(k) is not None), None)
        if value is not None:
            try:
                usage[name] = int(value)
            except (TypeError, ValueError):
                continue
    return usage


def _status(status: dict[str, Any] | None) -> str:
    code = str((status or {}).get("code", "")).upper()
    return "OK" if code in ("1", "STATUS_CODE_OK") else "ERROR" if code in ("2", "STATUS_CODE_ERROR") else "UNSET"


def span_from_otlp(span: dict[str, Any], encoding: IdEncoding) -> tuple[str, Span, str | None]:
    """(trace id, span, session id) of one OTLP span."""
    attributes = _attributes(span.get("attributes"))
    messages, used = _unflatten(attributes)
    inputs = next((_maybe_json(attributes[k]) for k in _INPUT_KEYS if attributes.get(k) is not None), None)
    outputs = next((_maybe_json(attributes[k]) for k in _OUTPUT_KEYS if attributes.get(k) is not None), None)
    inputs = inputs if inputs is not None else messages.get("inputs")
    outputs = outputs if outputs is not None else messages.get("outputs")
    model = next(
        (
            attributes[k]
            for k in ("llm.model_name", "gen_ai.response.model", "gen_ai.request.model")
            if attributes.get(k)
        ),
        None,
    )
    kept = {
        k: v
        for k, v in attributes.items()
        if k not in used and k not in _INPUT_KEYS and k not in _OUTPUT_KEYS and not k.endswith(".mime_type")
    }
    if model:
        kept["model"] = model
    usage = _usage(attributes)
    if usage:
        kept["usage"] = usage
    trace_id = _id(span.get("traceId"), encoding)
    span_id = _id(span.get("spanId"), encoding)
    if not trace_id or not span_id:
        raise ValueError("a span without traceId or spanId")
    start = _nanos(span.get("startTimeUnixNano"), "startTimeUnixNano") // 1_000_000
    end = _nanos(span.get("endTimeUnixNano"), "endTimeUnixNano") // 1_000_000 or None
    events = [
        {
            "name": str(e.get("name", "")),
            "time_ms": _nanos(e.get("timeUnixNano"), "timeUnixNano") // 1_000_000,
            "attributes": _attributes(e.get("attributes")),
        }
        for e in _list_of_objects(span.get("events"), "events")
    ]
    session = next((str(attributes[k]) for k in _SESSION_KEYS if attributes.get(k)), None)
    return (
        trace_id,
        Span(
            span_id=span_id,
            parent_id=_id(span.get("parentSpanId"), encoding),
            name=str(span.get("name") or "span"),
            span_type=_span_type(attributes),
            inputs=inputs,
            outputs=outputs,
            start_time_ms=start,
            end_time_ms=end,
            status=_status(span.get("status")),  # type: ignore[arg-type]
            attributes=json.loads(json.dumps(kept, default=str)),
            events=events,
        ),
        session,
    )


MAX_NANOS = 2**63 - 1  # OTLP times are fixed64 nanoseconds; larger ones cannot be stored


def _list_of_objects(value: Any, where: str) -> list[dict[str, Any]]:
    """`value` as a list of JSON objects, or a ValueError naming `where` (OTLP JSON is checked shape by shape,
    so a malformed request is a 400 that says what is wrong, never a server error)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list, not {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValueError(f"{where}[{i}] must be an object, not {type(item).__name__}")
    return value


def spans_of_request(request: dict[str, Any], encoding: IdEncoding) -> Iterator[tuple[str, Span, str | None, str]]:
    """(trace id, span, session id, service name) for every span of an ExportTraceServiceRequest; a
    ValueError naming the place for any malformed part."""
    if not isinstance(request, dict):
        raise ValueError("the request must be an ExportTraceServiceRequest object")
    for r, resource_spans in enumerate(_list_of_objects(request.get("resourceSpans"), "resourceSpans")):
        where = f"resourceSpans[{r}]"
        resource = resource_spans.get("resource") or {}
        if not isinstance(resource, dict):
            raise ValueError(f"{where}.resource must be an object")
        service = str(
            _attributes(_list_of_objects(resource.get("attributes"), f"{where}.resource.attributes")).get(
                "service.name"
            )
            or ""
        )
        key = "scopeSpans" if "scopeSpans" in resource_spans else "instrumentationLibrarySpans"
        for c, scope in enumerate(_list_of_objects(resource_spans.get(key), f"{where}.{key}")):
            for i, span in enumerate(_list_of_objects(scope.get("spans"), f"{where}.{key}[{c}].spans")):
                try:
                    trace_id, converted, session = span_from_otlp(span, encoding)
                except RecursionError:
                    raise ValueError(f"{where}.{key}[{c}].spans[{i}]: attributes nested too deep") from None
                except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
                    raise ValueError(f"{where}.{key}[{c}].spans[{i}]: {exc}") from None
                yield trace_id, converted, session, service


def assemble(trace_id: str, spans: list[Span], session: str | None, service: str, base: Trace | None) -> Trace:
    """A trace from its spans (merged by span id into `base`, the stored one): the root's inputs and
    outputs, times from the spans, ERROR when the root failed."""
    by_id = {s.span_id: s for s in (base.spans if base else [])}
    by_id.update({s.span_id: s for s in spans})
    merged = in_start_order(list(by_id.values()))
    ids = set(by_id)
    root = next((s for s in merged if s.parent_id is None or s.parent_id not in ids), merged[0])
    start = min(s.start_time_ms for s in merged)
    end = max((s.end_time_ms or s.start_time_ms) for s in merged)
    tags = dict(base.tags) if base else {}
    if service:
        tags.setdefault("service.name", service)
    return Trace(
        trace_id=trace_id,
        inputs=root.inputs,
        outputs=root.outputs,
        spans=merged,
        tags=tags,
        session_id=session or (base.session_id if base else None),
        request_time_ms=start,
        execution_time_ms=end - start,
        status="ERROR" if root.status == "ERROR" else "OK",
        assessments=[],
    )


@dataclass
class OtlpReport:
    traces: int = 0  # new traces
    updated: int = 0  # stored traces that got more spans
    spans: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"traces": self.traces, "updated": self.updated, "spans": self.spans}


def ingest(requests: Iterable[dict[str, Any]], experiment: str, encoding: IdEncoding) -> OtlpReport:
    """Store the spans of OTLP requests as traces of `experiment`, merging into traces already stored."""
    grouped: dict[str, list[Span]] = defaultdict(list)
    sessions: dict[str, str | None] = {}
    services: dict[str, str] = {}
    for request in requests:
        for trace_id, span, session, service in spans_of_request(request, encoding):
            grouped[trace_id].append(span)
            sessions[trace_id] = sessions.get(trace_id) or session
            services.setdefault(trace_id, service)
    report = OtlpReport(spans=sum(len(s) for s in grouped.values()))
    if not grouped:
        return report
    store = get_store()
    target = store.get_or_create_experiment(experiment)

    def merge(stored: dict[str, Trace]) -> list[Trace]:
        """Runs inside the store's transaction, with the stored versions of these traces read in it."""
        for trace_id, trace in stored.items():
            if trace.experiment_id != target.experiment_id:
                raise TraceIdConflict(
                    f"trace {trace_id} is already stored in another experiment ({trace.experiment_id}); spans with "
                    f"its id cannot be added to {experiment!r}: nothing of this request was stored"
                )
        return [
            assemble(trace_id, spans, sessions[trace_id], services[trace_id], stored.get(trace_id))
            for trace_id, spans in grouped.items()
        ]

    report.traces, report.updated = store.merge_traces(target.experiment_id, list(grouped), merge)
    return report


class TraceIdConflict(ValueError):
    """Spans whose trace id belongs to a trace of another experiment: refused, never merged across."""


def read_otlp_file(path: Path) -> list[dict[str, Any]]:
    """The requests in an OTLP JSON file: one JSON document, or one request a line (a collector's file
    exporter). A line that is not an OTLP request is named by its number."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(str(path), [(0, "(file)", f"not UTF-8 text: {exc.reason}")], 0) from None
    except OSError as exc:
        raise InputFileError(str(path), [(0, "(file)", exc.strerror or str(exc))], 0) from None
    try:
        whole = json.loads(text)
        documents = [(1, whole)]
    except ValueError:
        documents = []
        problems = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                documents.append((number, json.loads(line)))
            except ValueError as exc:
                problems.append((number, "(line)", f"not valid JSON: {exc}"))
        if problems:
            raise InputFileError(str(path), problems, len(documents) + len(problems)) from None
    problems = [
        (number, "resourceSpans", "not an OTLP trace export (no resourceSpans)")
        for number, doc in documents
        if not isinstance(doc, dict) or "resourceSpans" not in doc
    ]
    if problems or not documents:
        raise InputFileError(str(path), problems or [(0, "(file)", "the file has no records")], len(documents))
    return [doc for _, doc in documents]


def import_otlp_file(path: str | Path, experiment: str) -> OtlpReport:
    path = Path(path)
    requests = read_otlp_file(path)
    try:
        return ingest(requests, experiment, "hex")
    except (ValueError, TypeError, KeyError) as exc:
        raise InputFileError(str(path), [(0, "(span)", str(exc))], len(requests)) from None
