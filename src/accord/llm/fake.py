"""The scripted `fake:` provider: replies from a queue or a function, and a record of every prompt.

    from accord.llm import fake
    script = fake.script("judge-says-no", ['{"rationale": "r", "result": "no"}'])
    judge = make_judge(..., model="fake:/judge-says-no")
    ...
    script.requests  # every ChatRequest the script answered

A reply may be a string, a dict (sent as JSON), a `Completion` (returned as is, e.g. with verdict
probabilities), an exception (raised, to test faults) or a callable taking the ChatRequest and returning
any of those. Without a script, `fake:` answers a valid JSON
object for the request's schema, so batches run without setup. `fake:/NAME?latency_ms=N` waits N ms per
call, so that tests in other processes can have runs overlap.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from accord.llm.types import ChatRequest, Completion, Usage

Reply = str | dict[str, Any] | Completion | BaseException | Callable[[ChatRequest], Any]


class FakeScript:
    def __init__(self, replies: Iterable[Reply] | Callable[[ChatRequest], Any] | None = None) -> None:
        self._function = replies if callable(replies) else None
        self._queue: deque[Reply] = deque(() if replies is None or callable(replies) else replies)
        self.requests: list[ChatRequest] = []
        self._lock = threading.Lock()

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def next_reply(self, request: ChatRequest) -> Any:
        with self._lock:
            self.requests.append(request)
            if self._function is not None:
                return self._function(request)
            if self._queue:
                return self._queue.popleft()
        return default_reply(request)


def default_reply(request: ChatRequest) -> dict[str, Any]:
    """A valid answer for the schema: the first category, true, 0, or a short string."""
    schema = request.json_schema or {}
    answer: dict[str, Any] = {}
    for key, prop in schema.get("properties", {}).items():
        if "enum" in prop:
            answer[key] = prop["enum"][0]
        elif prop.get("type") == "boolean":
            answer[key] = True
        elif prop.get("type") in ("integer", "number"):
            answer[key] = prop.get("minimum", 0)
        elif prop.get("type") == "array":
            answer[key] = []
        else:
            answer[key] = "scripted answer"
    return answer or {"result": "yes", "rationale": "scripted answer"}


_scripts: dict[str, FakeScript] = {}
_scripts_lock = threading.Lock()


def script(name: str = "", replies: Iterable[Reply] | Callable[[ChatRequest], Any] | None = None) -> FakeScript:
    """Register (or replace) the script that `fake:/NAME` answers from."""
    with _scripts_lock:
        _scripts[name] = FakeScript(replies)
        return _scripts[name]


def get_script(name: str) -> FakeScript:
    with _scripts_lock:
        if name not in _scripts:
            _scripts[name] = FakeScript()
        return _scripts[name]


def reset() -> None:
    with _scripts_lock:
        _scripts.clear()


class FakeProvider:
    default_concurrency = 64
    cacheable = False

    def __init__(self, name: str, latency_ms: float = 0.0) -> None:
        self.name = name
        self.latency_s = latency_ms / 1000

    def complete(self, request: ChatRequest) -> Completion:
        if self.latency_s:
            time.sleep(self.latency_s)
        reply = get_script(self.name).next_reply(request)
        if callable(reply) and not isinstance(reply, BaseException):
            reply = reply(request)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, Completion):
            return reply
        text = reply if isinstance(reply, str) else json.dumps(reply)
        prompt_chars = sum(len(m["content"]) for m in request.messages)
        return Completion(text=text, usage=Usage(prompt_tokens=prompt_chars // 4, completion_tokens=len(text) // 4))
