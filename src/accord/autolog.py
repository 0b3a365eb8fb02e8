"""Automatic tracing of an application's model client calls: each call becomes a CHAT_MODEL span with the
messages, the answer, the model and its token usage, nested under the caller's span (or a trace of its
own when called outside any span, with the trace's inputs and outputs set from the call).

`accord.openai.autolog()` patches the OpenAI client's chat completions; `accord.litellm.autolog()`
patches `litellm.completion`. accord's own model calls (judges, reflection) are never recorded.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from accord.llm.internal import in_own_model_call
from accord.tracing import LiveSpan, start_span

_ORIGINAL = "__accord_original__"


def _as_data(response: Any) -> Any:
    for method in ("model_dump", "dict", "to_dict"):
        if callable(getattr(response, method, None)):
            try:
                return getattr(response, method)()
            except Exception:  # a client's own serialiser failing must not break the application's call
                continue
    return response


def _record(span: LiveSpan, provider: str, kwargs: dict[str, Any], response: Any) -> None:
    if kwargs.get("stream"):
        span.set_attribute("stream", True)  # the chunks go to the caller as they come
        return
    data = _as_data(response)
    span.set_outputs(data)
    if isinstance(data, dict):
        if data.get("model"):
            span.set_attribute("model", data["model"])
        usage = data.get("usage")
        if isinstance(usage, dict):
            span.set_attribute(
                "usage",
                {k: usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens") if k in usage},
            )


def traced(function: Callable[..., Any], provider: str, name: str) -> Callable[..., Any]:
    """`function` (sync or async) wrapped so that each call outside accord's own is recorded as a span."""
    if getattr(function, _ORIGINAL, None) is not None:
        return function  # already patched

    def start(kwargs: dict[str, Any]) -> Any:
        inputs = {k: v for k, v in kwargs.items() if k not in ("api_key", "extra_headers", "timeout")}
        attributes = {"provider": provider, "model": kwargs.get("model")}
        return start_span(name, "CHAT_MODEL", inputs=inputs, attributes=attributes)

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if in_own_model_call():
                return await function(*args, **kwargs)
            with start(kwargs) as span:
                response = await function(*args, **kwargs)
                _record(span, provider, kwargs, response)
                return response

        setattr(async_wrapper, _ORIGINAL, function)
        return async_wrapper

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if in_own_model_call():
            return function(*args, **kwargs)
        with start(kwargs) as span:
            response = function(*args, **kwargs)
            _record(span, provider, kwargs, response)
            return response

    setattr(wrapper, _ORIGINAL, function)
    return wrapper


def patch(owner: Any, attribute: str, provider: str, name: str, disable: bool) -> None:
    """Install (or, with `disable`, remove) the tracing wrapper on `owner.attribute`."""
    current = getattr(owner, attribute)
    original = getattr(current, _ORIGINAL, None)
    if disable:
        if original is not None:
            setattr(owner, attribute, original)
        return
    setattr(owner, attribute, traced(current, provider, name))
