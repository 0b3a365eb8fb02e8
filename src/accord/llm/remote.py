"""Hosted and self-hosted models through litellm; its errors mapped onto accord's retryable ones."""

from __future__ import annotations

import math
import os
import time
from typing import Any

from accord.errors import ConfigError, ModelError, ModelTimeout, ModelUnreachable, RateLimited
from accord.llm.types import ChatRequest, Completion, Usage
from accord.llm.uris import REMOTE_PROVIDERS, ModelURI

_LITELLM_PREFIX = {"vllm": "hosted_vllm", "openai": "openai"}


def _connection_failed(exc: BaseException) -> bool:
    """litellm reports a refused connection as an HTTP 500 "Connection error."; the cause chain tells."""
    import httpx

    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, (httpx.ConnectError, httpx.RemoteProtocolError, ConnectionError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _litellm() -> Any:
    """litellm, imported lazily (it takes seconds) and told to use its bundled price list instead of
    fetching one over the network at import."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def trusted_base_url(base_url: str) -> bool:
    """Whether the user configured this base URL in the environment (ACCORD_TRUSTED_BASE_URLS, comma-separated,
    or a provider's own OPENAI_BASE_URL / OPENAI_API_BASE / ANTHROPIC_BASE_URL): only then does an API key
    from the environment go to it."""
    configured = os.environ.get("ACCORD_TRUSTED_BASE_URLS", "").split(",")
    configured += [os.environ.get(v, "") for v in ("OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_BASE_URL")]
    wanted = base_url.rstrip("/")
    return any(c.strip() and c.strip().rstrip("/") == wanted for c in configured)


class LiteLLMProvider:
    default_concurrency = 16
    cacheable = True

    def __init__(self, uri: ModelURI, timeout_s: float = 120.0) -> None:
        self.uri = uri
        self.timeout_s = float(uri.params.get("timeout", timeout_s))
        self.model = f"{_LITELLM_PREFIX.get(uri.provider, uri.provider)}/{uri.name}"
        env_var = REMOTE_PROVIDERS[uri.provider]
        self.api_key: str | None = None
        if env_var:
            self.api_key = os.environ.get(env_var)
            if not self.api_key and not uri.base_url:
                raise ConfigError(f"{uri}: set the environment variable {env_var} to use this model")
        if uri.base_url and not trusted_base_url(uri.base_url):
            # a base URL written in a model URI (perhaps in a judge someone else registered) never receives the
            # key from the environment; OpenAI-compatible servers of your own often take any key
            self.api_key = "not-needed"
        elif uri.base_url and not self.api_key:
            self.api_key = "not-needed"

    def _model_error(self, exc: Exception) -> ModelError:
        """litellm raises subclasses of the openai SDK's errors; map them by meaning."""
        import openai

        where = {"model": str(self.uri), "provider": self.uri.provider}
        message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        if isinstance(exc, openai.APITimeoutError):
            return ModelTimeout(**where)
        if isinstance(exc, openai.RateLimitError):
            return RateLimited(retry_after=_retry_after(exc), **where)
        if isinstance(exc, openai.APIConnectionError) or _connection_failed(exc):
            target = self.uri.base_url or self.uri.provider
            return ModelUnreachable(f"cannot reach the model server at {target}: {message}", **where)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            retryable = status >= 500 or status in (408, 409)
            return ModelError(message, status=status, retry_after=_retry_after(exc), retryable=retryable, **where)
        return ModelError(message, **where)

    def complete(self, request: ChatRequest) -> Completion:
        litellm = _litellm()

        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "timeout": self.timeout_s,
            "num_retries": 0,  # accord retries itself, honouring Retry-After
            "max_retries": 0,
            **request.extra,
        }
        if self.uri.base_url:
            kwargs["api_base"] = self.uri.base_url
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if request.json_schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": request.json_schema, "strict": True},
            }
        if request.verdict_choices:  # where the provider reports them; litellm drops them where it cannot
            kwargs.update({"logprobs": True, "top_logprobs": 5, "drop_params": True})
        started = time.perf_counter()
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:
            raise self._model_error(exc) from exc
        latency = time.perf_counter() - started
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        # litellm already priced the call while logging it; reuse that instead of pricing it again
        cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
        return Completion(
            text=choice.message.content or "",
            finish_reason=getattr(choice, "finish_reason", None),
            usage=Usage(
                prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                latency_s=latency,
                cost_usd=cost or None,
            ),
            choice_probabilities=choice_probabilities(choice, request.verdict_choices)
            if request.verdict_choices
            else None,
        )


def choice_probabilities(choice: Any, choices: tuple[str, ...]) -> dict[str, float] | None:
    """The verdict's probabilities from an OpenAI-style `logprobs.content`: at the token that follows
    `{"result": "`, the top alternatives' probabilities summed per choice they begin, then normalised.
    None when the provider sent no log-probabilities or the choices cannot be told apart by that token."""
    from accord.llm.local_verdicts import at_result

    logprobs = _field(choice, "logprobs")
    content = _field(logprobs, "content") if logprobs is not None else None
    written = ""
    for entry in content or []:
        token = _field(entry, "token") or ""
        if at_result(written):
            mass = dict.fromkeys(choices, 0.0)
            for alt in _field(entry, "top_logprobs") or [entry]:
                piece = (_field(alt, "token") or "").strip()
                starts = [c for c in choices if piece and c.startswith(piece)]
                if len(starts) == 1:
                    mass[starts[0]] += math.exp(float(_field(alt, "logprob") or -math.inf))
            total = sum(mass.values())
            return {c: m / total for c, m in mass.items()} if total > 0 else None
        written += token
    return None


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)
