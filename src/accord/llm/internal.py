"""Whether the current call is accord's own (a judge or a reflection asking its model), so that
autologging of the application's model clients (`accord.openai.autolog()`) never records it as a trace."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_own_call: contextvars.ContextVar[bool] = contextvars.ContextVar("accord_own_model_call", default=False)


@contextmanager
def own_model_call() -> Iterator[None]:
    token = _own_call.set(True)
    try:
        yield
    finally:
        _own_call.reset(token)


def in_own_model_call() -> bool:
    return _own_call.get()
