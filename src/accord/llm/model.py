"""The model handle every caller uses: provider + bounded concurrency + retries + cache + usage records."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from accord.config import default_model, settings
from accord.errors import ConfigError, ModelError, RateLimited
from accord.llm.cache import ResponseCache
from accord.llm.internal import own_model_call
from accord.llm.types import ChatRequest, Completion, Usage
from accord.llm.uris import ModelURI, parse_model_uri

log = logging.getLogger("accord.llm")


class Provider(Protocol):
    default_concurrency: int
    cacheable: bool

    def complete(self, request: ChatRequest) -> Completion: ...


@dataclass
class RetryPolicy:
    max_retries: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        current = settings()
        return cls(max_retries=current.max_retries, base_delay_s=current.retry_base_delay_s)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay_s)
        return min(self.base_delay_s * 2**attempt * (0.5 + random.random()), self.max_delay_s)


@dataclass
class UsageTotals:
    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    retries: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)

    def add(self, usage: Usage) -> None:
        self.calls += 1
        self.cached_calls += usage.cached
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.latency_s += usage.latency_s
        self.cost_usd += usage.cost_usd or 0.0
        if len(self.records) < 100_000:  # bounded: a long-running process must not grow without end
            self.records.append(usage.to_dict())


class RateGate(Protocol):
    """Where a 429 is told, so that every caller of that endpoint waits, not only the one that got it."""

    def wait(self, endpoint: str) -> None: ...
    def pause(self, endpoint: str, seconds: float) -> None: ...


class LocalRateGate:
    """The process's gate: a pause per endpoint, honoured by every thread before its next call."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, endpoint: str) -> None:
        while True:
            with self._lock:
                delay = self._until.get(endpoint, 0.0) - time.time()
            if delay <= 0:
                return
            time.sleep(min(delay, 1.0))

    def pause(self, endpoint: str, seconds: float) -> None:
        with self._lock:
            self._until[endpoint] = max(self._until.get(endpoint, 0.0), time.time() + seconds)


_rate_gate: RateGate = LocalRateGate()


def set_rate_gate(gate: RateGate | None) -> None:
    """Share 429 pauses beyond this process (Ray actors use a gate held by one actor); None: this process's."""
    global _rate_gate
    _rate_gate = gate if gate is not None else LocalRateGate()


_semaphores: dict[str, tuple[threading.BoundedSemaphore, int]] = {}
_semaphores_lock = threading.Lock()


def _semaphore(key: str, limit: int, uri: str) -> threading.BoundedSemaphore:
    """One limit per provider endpoint, shared by every handle in the process; a second, different limit for
    the same endpoint is refused rather than silently ignored."""
    with _semaphores_lock:
        if key not in _semaphores:
            _semaphores[key] = (threading.BoundedSemaphore(limit), limit)
        slots, first = _semaphores[key]
        if first != limit:
            raise ConfigError(
                f"{uri}: max_concurrency={limit}, but this process already limits {key} to {first} calls at "
                "once; use one limit per endpoint"
            )
        return slots


def _make_provider(uri: ModelURI) -> Provider:
    if uri.provider == "fake":
        from accord.llm.fake import FakeProvider

        return FakeProvider(uri.name, float(uri.params.get("latency_ms", 0)))
    if uri.provider == "local":
        from accord.llm.local import LocalProvider

        return LocalProvider(uri)
    from accord.llm.remote import LiteLLMProvider

    return LiteLLMProvider(uri)


class Model:
    """A model by URI. `complete()` is safe to call from many threads at once."""

    def __init__(self, uri: str | None = None, *, retry: RetryPolicy | None = None) -> None:
        self.uri = str(uri or default_model())
        self.parsed = parse_model_uri(self.uri)
        self.provider = _make_provider(self.parsed)
        self.retry = retry or RetryPolicy.from_settings()
        limit = int(self.parsed.params.get("max_concurrency") or settings().max_concurrency)
        limit = limit or self.provider.default_concurrency
        endpoint = f"{self.parsed.provider}:{self.parsed.base_url or self.parsed.name}"
        self.endpoint = endpoint
        self._slots = _semaphore(endpoint, limit, self.uri)
        self.max_concurrency = limit
        self.usage = UsageTotals()
        self._usage_lock = threading.Lock()
        self._cache: ResponseCache | None = None

    def _response_cache(self) -> ResponseCache:
        if self._cache is None:
            self._cache = ResponseCache()
        return self._cache

    def complete(self, request: ChatRequest, use_cache: bool | None = None) -> Completion:
        """One answer, retried with exponential backoff on timeouts, 429 (honouring Retry-After) and 5xx."""
        return self._complete(request, use_cache, hold_slot=True)

    def complete_many(
        self, requests: list[ChatRequest], use_cache: bool | None = None
    ) -> list[Completion | ModelError]:
        """Answers in order, with one concurrency slot held for all of them: no other caller's prompt runs
        in between, so a local model keeps the KV cache of the prefix the requests share (a case asked
        several questions). A request that fails gives its ModelError in its place; the others still run."""
        results: list[Completion | ModelError] = []
        with self._slots:
            for request in requests:
                try:
                    results.append(self._complete(request, use_cache, hold_slot=False))
                except ModelError as exc:
                    results.append(exc)
        return results

    def _complete(self, request: ChatRequest, use_cache: bool | None, hold_slot: bool) -> Completion:
        if use_cache is None:
            use_cache = settings().use_cache
        cacheable = use_cache and self.provider.cacheable and request.temperature == 0
        key = request.cache_key(self.uri) if cacheable else ""
        if cacheable and (hit := self._response_cache().get(key)) is not None:
            self._record(hit.usage)
            return hit
        attempt = 0
        while True:
            _rate_gate.wait(self.endpoint)
            started = time.perf_counter()
            try:
                with own_model_call():  # never recorded by the application's autologging
                    if hold_slot:
                        with self._slots:
                            completion = self.provider.complete(request)
                    else:
                        completion = self.provider.complete(request)
                break
            except ModelError as exc:
                if not exc.retryable or attempt >= self.retry.max_retries:
                    raise
                wait = self.retry.delay(attempt, exc.retry_after)
                if isinstance(exc, RateLimited):
                    _rate_gate.pause(self.endpoint, wait)  # every caller of this endpoint backs off
                log.warning("%s; retry %d/%d in %.1fs", exc, attempt + 1, self.retry.max_retries, wait)
                with self._usage_lock:
                    self.usage.retries += 1
                time.sleep(wait)
                attempt += 1
        if not completion.usage.latency_s:
            completion.usage.latency_s = time.perf_counter() - started
        self._record(completion.usage)
        if cacheable and completion.text:
            self._response_cache().put(key, completion)
        return completion

    def forget(self, request: ChatRequest) -> None:
        """Drop a cached answer that turned out unusable, so the next run asks the model again."""
        if self.provider.cacheable and request.temperature == 0:
            self._response_cache().delete(request.cache_key(self.uri))

    def _record(self, usage: Usage) -> None:
        with self._usage_lock:
            self.usage.add(usage)


_models: dict[str, Model] = {}
_models_lock = threading.Lock()


def get_model(uri: str | None = None) -> Model:
    """The shared handle for a URI (so concurrency limits, usage and loaded weights are per process)."""
    key = str(uri or default_model())
    with _models_lock:
        if key not in _models:
            _models[key] = Model(key)
        return _models[key]


def forget_models() -> None:
    """Drop every shared handle and concurrency limit, so the next use of an endpoint may set a new limit."""
    with _models_lock, _semaphores_lock:
        _models.clear()
        _semaphores.clear()
