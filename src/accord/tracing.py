"""Record traces of the user's own code: `@accord.trace` and `with accord.start_span(...)`.

Spans nest through a context variable; when the outermost span ends, the whole trace is stored in the
active experiment in one transaction.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, overload

from accord.entities import Span, Trace, in_start_order, now_ms
from accord.experiments import active_experiment_id
from accord.store import get_store

F = TypeVar("F", bound=Callable[..., Any])


class _TraceBuilder:
    def __init__(self, session_id: str | None, tags: dict[str, str]) -> None:
        self.trace_id = f"tr-{uuid.uuid4().hex}"
        self.spans: list[Span] = []
        self.session_id = session_id
        self.tags = dict(tags)


_current_span: contextvars.ContextVar[LiveSpan | None] = contextvars.ContextVar("accord_span", default=None)
_last_trace_id: dict[str, str | None] = {"id": None}
_last_start_ms = {"ms": 0}  # traces started in the same millisecond still get distinct, ordered times
_last_lock = threading.Lock()


def _json_safe(value: Any) -> Any:
    """Values as stored: JSON types as they are, anything else by its repr."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        if isinstance(value, dict):
            return {str(k): _json_safe(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [_json_safe(v) for v in value]
        return repr(value)


class LiveSpan:
    """A span being recorded; set its inputs, outputs and attributes while it runs."""

    def __init__(self, builder: _TraceBuilder, name: str, span_type: str, parent: LiveSpan | None) -> None:
        self._builder = builder
        self.span = Span(name=name, span_type=span_type, parent_id=parent.span.span_id if parent else None)

    @property
    def trace_id(self) -> str:
        return self._builder.trace_id

    @property
    def span_id(self) -> str:
        return self.span.span_id

    def set_inputs(self, inputs: Any) -> None:
        self.span.inputs = _json_safe(inputs)

    def set_outputs(self, outputs: Any) -> None:
        self.span.outputs = _json_safe(outputs)

    def set_attribute(self, key: str, value: Any) -> None:
        self.span.attributes[key] = _json_safe(value)

    def set_tag(self, key: str, value: str) -> None:
        """A tag on the whole trace (searchable with `search_traces(tags=...)`)."""
        self._builder.tags[key] = str(value)

    def set_session(self, session_id: str) -> None:
        self._builder.session_id = session_id


@contextmanager
def start_span(
    name: str = "span",
    span_type: str = "UNKNOWN",
    inputs: Any = None,
    attributes: dict[str, Any] | None = None,
    session_id: str | None = None,
    tags: dict[str, str] | None = None,
) -> Iterator[LiveSpan]:
    """Record a span; the outermost one starts a new trace and stores it when it ends."""
    parent = _current_span.get()
    builder = parent._builder if parent else _TraceBuilder(session_id, tags or {})
    live = LiveSpan(builder, name, span_type, parent)
    if inputs is not None:
        live.set_inputs(inputs)
    for key, value in (attributes or {}).items():
        live.set_attribute(key, value)
    token = _current_span.set(live)
    try:
        yield live
        live.span.status = "OK"
    except BaseException as exc:
        live.span.status = "ERROR"
        live.span.events.append(
            {"name": "exception", "type": type(exc).__name__, "message": str(exc), "time_ms": now_ms()}
        )
        raise
    finally:
        live.span.end_time_ms = now_ms()
        _current_span.reset(token)
        builder.spans.append(live.span)
        if parent is None:
            _store_trace(builder, live.span)


def _store_trace(builder: _TraceBuilder, root: Span) -> None:
    spans = in_start_order(builder.spans)
    with _last_lock:
        request_time = max(root.start_time_ms, _last_start_ms["ms"] + 1)
        _last_start_ms["ms"] = request_time
    trace = Trace(
        trace_id=builder.trace_id,
        inputs=root.inputs,
        outputs=root.outputs,
        spans=spans,
        tags=builder.tags,
        session_id=builder.session_id,
        request_time_ms=request_time,
        execution_time_ms=(root.end_time_ms or root.start_time_ms) - root.start_time_ms,
        status="ERROR" if root.status == "ERROR" else "OK",
    )
    experiment_id = active_experiment_id()
    trace.experiment_id = experiment_id
    get_store().insert_traces([trace], experiment_id)
    with _last_lock:
        _last_trace_id["id"] = trace.trace_id


def get_last_active_trace_id() -> str | None:
    """The id of the trace most recently finished in this process."""
    return _last_trace_id["id"]


def get_current_active_span() -> LiveSpan | None:
    return _current_span.get()


def _bind_inputs(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
        bound.apply_defaults()
        return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}
    except TypeError:
        return {"args": list(args), **kwargs}


@overload
def trace(func: F) -> F: ...
@overload
def trace(*, name: str | None = None, span_type: str = "UNKNOWN") -> Callable[[F], F]: ...


def trace(func: F | None = None, *, name: str | None = None, span_type: str = "UNKNOWN") -> Any:
    """Decorator recording each call as a span (a new trace when called outside any span)."""

    def decorate(fn: F) -> F:
        span_name = name or fn.__name__
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with start_span(span_name, span_type, inputs=_bind_inputs(fn, args, kwargs)) as span:
                    result = await fn(*args, **kwargs)
                    span.set_outputs(result)
                    return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with start_span(span_name, span_type, inputs=_bind_inputs(fn, args, kwargs)) as span:
                result = fn(*args, **kwargs)
                span.set_outputs(result)
                return result

        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate
