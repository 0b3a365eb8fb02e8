"""A populated store, the review server on 127.0.0.1 (real HTTP), PostgreSQL databases and Chromium.

Under `make test` (ACCORD_FULL_SUITE=1) a missing PostgreSQL server or Chromium fails the run; run
directly without them, those tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
import uvicorn

from accord.entities import AssessmentSource, AssessmentSourceType, Feedback, Span, Trace
from accord.evaluation import evaluate
from accord.judges import Judge, make_judge
from accord.llm import fake
from accord.llm.types import ChatRequest
from accord.review import ReviewSettings, create_app
from accord.store import get_store
from tests.conftest import need

CHROMIUM = os.environ.get("ACCORD_TEST_CHROMIUM", "/usr/bin/chromium")
XSS_OUTPUT = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


# data ------------------------------------------------------------------------------------------------
def judge_reply(request: ChatRequest) -> dict[str, Any]:
    """The scripted judge: "no" when the answer promises something, else "yes"; condition for reflection."""
    if "condition" in (request.json_schema or {}).get("properties", {}):
        return {"condition": "promises a refund or a delivery date"}
    text = request.messages[-1]["content"]
    case = text.rsplit("<outputs>", 1)[-1]  # the case being judged comes after any retrieved examples
    if "promise" in case:
        return {"rationale": "Promises a delivery date.", "result": "no"}
    return {"rationale": "Points to tracking and promises nothing.", "result": "yes"}


def policy_judge() -> Judge:
    fake.script("review", judge_reply)
    return make_judge(
        name="policy",
        instructions="Does the answer in {{ outputs }} follow the support policy for {{ inputs }}?",
        feedback_value_type=Literal["yes", "no"],
        model="fake:/review",
    )


def make_traces(n: int) -> list[Trace]:
    traces = []
    for i in range(n):
        promise = i % 3 == 0
        root = Span(span_id=f"root{i}", name="answer", span_type="CHAIN", inputs={"q": i}, start_time_ms=1000 + i)
        child = Span(
            span_id=f"llm{i}",
            parent_id=f"root{i}",
            name="llm-call",
            span_type="LLM",
            outputs="draft",
            start_time_ms=1001 + i,
        )
        traces.append(
            Trace(
                trace_id=f"t{i:03d}",
                inputs={"question": f"Where is my order {i}?"},
                outputs=f"I promise it arrives Friday (order {i})." if promise else f"Track order {i} online.",
                tags={"topic": "shipping" if i % 2 else "returns"},
                spans=[root, child],
                request_time_ms=1_700_000_000_000 + i * 1000,
            )
        )
    traces.append(
        Trace(
            trace_id="xss", inputs={"question": "<b>bold?</b>"}, outputs=XSS_OUTPUT, request_time_ms=1_800_000_000_000
        )
    )
    return traces


def expert_label(i: int) -> str:
    """The experts also reject trace 7, 14, ... which the scripted judge lets pass."""
    return "no" if i % 3 == 0 or i % 7 == 0 else "yes"


def human(trace_id: str, value: str, who: str = "ana", rationale: str = "as policy says") -> Feedback:
    return Feedback(
        trace_id=trace_id,
        name="policy",
        value=value,
        rationale=rationale,
        source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id=who),
    )


@dataclass
class Populated:
    experiment: str
    judge: Judge
    traces: list[Trace]


@pytest.fixture
def populated(store_uri: str) -> Populated:
    """24 traces plus one carrying an XSS payload; the judge (registered as policy v1) has judged the first
    16; experts labelled 12 of them."""
    store = get_store()
    experiment = store.get_or_create_experiment("support")
    traces = make_traces(24)
    store.insert_traces(traces, experiment.experiment_id)
    judge = policy_judge()
    judge.register(experiment_id=experiment.experiment_id)
    evaluate(traces[:16], [judge], show_progress=False)
    store.log_assessments([human(t.trace_id, expert_label(i)) for i, t in enumerate(traces[:12])])
    return Populated("support", judge, traces)


# the server ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    settings: ReviewSettings

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


@pytest.fixture
def serve_review() -> Iterator[Any]:
    """Start the review app on 127.0.0.1 with given settings; every server started is stopped after."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**settings: Any) -> RunningServer:
        config = ReviewSettings(**settings)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the review server did not start")
            time.sleep(0.02)
        servers.append((server, thread))
        return RunningServer(f"http://127.0.0.1:{port}", config)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def csrf_of(client: httpx.Client, path: str = "/healthz") -> str:
    """Visit once so the server sets this client's forgery-protection cookie, and return it."""
    client.get(path)
    token = client.cookies.get("accord_csrf")
    assert token, "the server set no CSRF cookie"
    return token


# the browser -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")  # Playwright's sync API holds an event loop: keep it to the browser tests
def chromium() -> Iterator[Any]:
    need(shutil.which(CHROMIUM) is not None or os.path.exists(CHROMIUM), f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
