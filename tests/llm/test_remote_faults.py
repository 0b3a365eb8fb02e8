"""The remote path end to end: litellm against an OpenAI-compatible server started on 127.0.0.1."""

import time
from typing import Literal

import pytest

from accord.config import reload_settings
from accord.judges import make_judge
from accord.llm import get_model
from accord.llm.stub_server import StubServer


def _judge(server: StubServer, extra: str = "", name: str = "remote"):
    return make_judge(
        name,
        "Is {{ outputs }} right?",
        model=f"openai:/stub?base_url={server.base_url}{extra}",
        feedback_value_type=Literal["yes", "no"],
    )


def test_429_honours_retry_after_and_500_is_retried() -> None:
    with StubServer(faults=[429, 500, None], retry_after_s=0.3) as server:
        started = time.perf_counter()
        feedback = _judge(server)(outputs="x")
        elapsed = time.perf_counter() - started
    assert feedback.value == "yes" and feedback.error is None
    assert len(server.requests) == 3
    assert elapsed >= 0.3  # waited as long as Retry-After asked
    assert get_model(_judge(server).model).usage.retries == 2


def test_timeout_is_retried() -> None:
    with StubServer(faults=["timeout", None], timeout_sleep_s=1.5) as server:
        feedback = _judge(server, "&timeout=0.5")(outputs="x")
    assert feedback.value == "yes" and len(server.requests) == 2


def test_persistent_500_gives_an_errored_feedback_naming_the_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_MAX_RETRIES", "2")
    reload_settings()
    with StubServer(faults=[500] * 5) as server:
        feedback = _judge(server)(outputs="x")
    assert feedback.value is None and feedback.error.error_code == "MODEL_ERROR"
    assert "HTTP 500" in feedback.error.error_message
    assert len(server.requests) == 3


def test_client_errors_are_not_retried() -> None:
    with StubServer(faults=[400]) as server:
        feedback = _judge(server)(outputs="x")
    assert "HTTP 400" in feedback.error.error_message and len(server.requests) == 1


def test_schema_is_sent_and_responses_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    with StubServer() as server:
        judge = _judge(server)
        first = judge(outputs="same")
        second = judge(outputs="same")
        assert len(server.requests) == 1
        assert second.metadata["usage"]["cached"] and second.value == first.value
        schema = server.requests[0]["response_format"]["json_schema"]["schema"]
        assert schema["properties"]["result"]["enum"] == ["yes", "no"]
        monkeypatch.setenv("ACCORD_NO_CACHE", "1")
        reload_settings()
        judge(outputs="same")
        assert len(server.requests) == 2


def test_concurrency_is_bounded_per_provider() -> None:
    import threading

    in_flight = {"now": 0, "max": 0}
    lock = threading.Lock()

    def reply(_request: dict) -> str:
        with lock:
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
        time.sleep(0.05)
        with lock:
            in_flight["now"] -= 1
        return '{"rationale": "r", "result": "yes"}'

    with StubServer(reply=reply) as server:
        judge = _judge(server, "&max_concurrency=3")
        threads = [threading.Thread(target=judge, kwargs={"outputs": f"x{i}"}) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(server.requests) == 12 and in_flight["max"] <= 3


def test_a_429_pauses_every_thread_calling_that_endpoint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import accord
    from accord.entities import Trace
    from accord.store import get_store

    experiment = accord.set_experiment("limited")
    get_store().insert_traces(
        [Trace(trace_id=f"l{i}", inputs="q", outputs=f"a{i}") for i in range(40)], experiment.experiment_id
    )
    with StubServer(latency_s=0.05, faults=[None] * 12 + [429], retry_after_s=3.0) as server:
        judge = _judge(server)
        result = accord.evaluate("limited", [judge], concurrency=4, show_progress=False)
        arrivals = list(server.arrivals)
    assert result.summary() == {"new": 40, "reused": 0, "errors": 0}
    limited_at = next(t for t, fault in arrivals if fault == 429)
    assert [t for t, _ in arrivals if limited_at + 1.2 < t < limited_at + 2.9] == []  # the other threads waited too


def test_an_api_key_goes_only_to_a_base_url_configured_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from accord.llm import model

    canary = "sk-canary-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    with StubServer() as server:
        assert _judge(server, name="stored")(outputs="x").error is None  # a base URL read from a judge's spec
        assert server.authorizations and all(canary not in a for a in server.authorizations)
        monkeypatch.setenv("ACCORD_TRUSTED_BASE_URLS", server.base_url)
        model.forget_models()
        assert _judge(server, extra="&trusted=1", name="configured")(outputs="y").error is None
        assert canary in server.authorizations[-1]
