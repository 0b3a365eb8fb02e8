"""The response cache keeps only usable answers, expires them with ACCORD_CACHE_TTL, and can be shown and cleared."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import pytest
from typer.testing import CliRunner

from accord.cli import app
from accord.config import reload_settings
from accord.judges import make_judge
from accord.llm import fake, get_model
from accord.llm.cache import ResponseCache
from accord.llm.types import ChatRequest, Completion


class Cached:
    """A provider stand-in that is cacheable (the fake provider is not) and counts its calls."""

    cacheable = True
    default_concurrency = 4

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.calls = 0

    def complete(self, request: ChatRequest) -> Completion:
        self.calls += 1
        return Completion(text=self.replies[min(self.calls - 1, len(self.replies) - 1)])


def _judge_with(provider: Cached):  # type: ignore[no-untyped-def]
    judge = make_judge("q", "Is {{ outputs }} fine?", model="fake:/cached", feedback_value_type=Literal["yes", "no"])
    get_model("fake:/cached").provider = provider
    return judge


def test_an_unparseable_answer_is_never_replayed_from_the_cache() -> None:
    fake.script("cached")
    broken = Cached(["garbage, not JSON"])
    judge = _judge_with(broken)
    assert judge(outputs="hello").error is not None
    healthy = Cached(['{"rationale": "fine", "result": "yes"}'])
    get_model("fake:/cached").provider = healthy
    verdict = judge(outputs="hello")
    assert verdict.error is None and verdict.value == "yes" and healthy.calls == 1
    again = judge(outputs="hello")  # a usable answer is kept
    assert again.value == "yes" and healthy.calls == 1 and again.metadata["usage"]["cached"] is True


def test_ttl_expires_answers_and_the_cli_shows_and_clears_them(monkeypatch: pytest.MonkeyPatch) -> None:
    fake.script("cached")
    provider = Cached(['{"rationale": "fine", "result": "yes"}'])
    judge = _judge_with(provider)
    judge(outputs="one")
    judge(outputs="one")
    assert provider.calls == 1
    monkeypatch.setenv("ACCORD_CACHE_TTL", "60")
    reload_settings()
    info = ResponseCache().info()
    assert info["entries"] == 1 and info["expired"] == 0 and info["ttl_s"] == 60
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 120)
    judge(outputs="one")
    assert provider.calls == 2  # expired: asked again
    monkeypatch.setattr(time, "time", real_time)
    runner = CliRunner()
    shown = json.loads(runner.invoke(app, ["cache", "info", "--json"]).stdout)
    assert shown["entries"] == 1 and shown["ttl_s"] == 60
    assert "removed 0" in runner.invoke(app, ["cache", "clear", "--older-than", "3600"]).stdout
    assert "removed 1" in runner.invoke(app, ["cache", "clear"]).stdout
    monkeypatch.setenv("ACCORD_CACHE_TTL", "soon")  # the CLI reads the environment when it starts
    result = runner.invoke(app, ["cache", "info"])
    assert result.exit_code == 1 and "ACCORD_CACHE_TTL must be a number" in result.output


def test_a_second_concurrency_limit_for_one_endpoint_is_refused_and_unknown_providers_at_creation() -> None:
    from accord.errors import ConfigError
    from accord.llm.model import Model

    Model("fake:/limits?max_concurrency=3")
    Model("fake:/limits?max_concurrency=3")  # the same limit again is fine
    with pytest.raises(ConfigError, match="already limits fake:limits to 3"):
        Model("fake:/limits?max_concurrency=5")
    with pytest.raises(ConfigError, match="unknown model provider 'nosuch'"):
        make_judge("q", "Is {{ outputs }} fine?", model="nosuch:/model")


def test_a_locked_or_damaged_cache_never_fails_a_verdict(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from accord.errors import AccordError

    fake.script("cached")
    provider = Cached(['{"rationale": "fine", "result": "yes"}'])
    judge = _judge_with(provider)
    judge(outputs="kept")  # the cache file now exists
    path = ResponseCache().path
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, as Ray workers opening the cache at once do
    locked = ResponseCache(path, busy_timeout_s=0.05)
    request = ChatRequest(messages=[{"role": "user", "content": "x"}])
    assert locked.get(request.cache_key("fake:/cached")) is None
    locked.put("k", Completion(text="answer"))  # not kept, not raised
    get_model("fake:/cached")._cache = locked
    verdict = judge(outputs="new while locked")
    assert verdict.error is None and verdict.value == "yes" and provider.calls == 2
    assert "unusable" in caplog.text and str(path) in caplog.text
    holder.rollback()
    holder.close()

    damaged = tmp_path / "damaged" / "responses.db"
    damaged.parent.mkdir()
    damaged.write_bytes(b"not a database at all " * 100)
    get_model("fake:/cached")._cache = ResponseCache(damaged)
    assert judge(outputs="new while damaged").value == "yes" and provider.calls == 3
    with pytest.raises(AccordError, match="cannot be read"):
        ResponseCache(damaged).info()
    monkeypatch.setenv("ACCORD_CACHE_DIR", str(damaged.parent))
    reload_settings()
    result = CliRunner().invoke(app, ["cache", "info"])
    assert result.exit_code != 0 and "cannot be read" in result.output
