"""OpenTelemetry in: an OTLP JSON file as a collector's file exporter writes it, and the OpenTelemetry SDK's
own OTLP/HTTP exporter sending spans to `accord serve-otlp` (started as a real process on 127.0.0.1)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import accord
from accord.cli import app
from accord.store import get_store
from tests.review.conftest import free_port

DATA = Path(__file__).parent / "data"
T1 = "5b8efff798038103d269b633813fc60c"


def test_collector_file_maps_openinference_and_genai_conventions_and_merges_split_traces() -> None:
    result = CliRunner().invoke(app, ["traces", "import-otlp", str(DATA / "otlp_collector.jsonl"), "-e", "otel"])
    assert result.exit_code == 0, result.output
    assert "imported 2 traces (3 spans)" in result.output
    trace = accord.get_trace(T1)  # its child came in the first line, its root in the second
    assert [s.name for s in trace.spans] == ["answer_customer", "ChatCompletion"]
    assert trace.inputs == {"question": "My tent pole snapped"} and trace.outputs == "I have issued a full refund."
    assert trace.session_id == "session-42" and trace.tags["service.name"] == "support-bot"
    root, llm = trace.spans
    assert root.span_type == "CHAIN" and llm.span_type == "LLM" and llm.parent_id == root.span_id
    assert llm.inputs[1] == {"role": "user", "content": "My tent pole snapped"}
    assert llm.outputs == [{"role": "assistant", "content": "I have issued a full refund."}]
    assert llm.attributes["model"] == "gpt-4o-mini"
    assert llm.attributes["usage"] == {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40}
    assert root.attributes["tag.tags"] == ["returns", "tents"] and root.events[0]["attributes"] == {"documents": 3}
    genai = accord.get_trace("0af7651916cd43dd8448eb211c80319c")
    assert genai.spans[0].span_type == "CHAT_MODEL" and genai.status == "ERROR" and genai.session_id == "conv-7"
    assert genai.inputs[0]["parts"][0]["content"] == "Is the stove safe indoors?"
    assert genai.spans[0].attributes["usage"] == {"prompt_tokens": 12, "completion_tokens": 6}

    # importing again adds nothing; the traces can be judged like any other
    again = CliRunner().invoke(app, ["traces", "import-otlp", str(DATA / "otlp_collector.jsonl"), "-e", "otel"])
    assert again.exit_code == 0 and "2 already stored got new spans" in again.output
    assert len(accord.get_trace(T1).spans) == 2


def test_a_file_that_is_not_otlp_names_its_line_and_stores_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    good = (DATA / "otlp_collector.jsonl").read_text().splitlines()[0]
    bad.write_text(good + "\n{not json\n" + json.dumps({"spans": []}) + "\n")
    result = CliRunner().invoke(app, ["traces", "import-otlp", str(bad), "-e", "otel"])
    assert result.exit_code == 1 and ":2:" in result.output and "not valid JSON" in result.output
    assert get_store().get_experiment_by_name("otel") is None


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[str]:
    """`accord serve-otlp` in its own process, with this test's store."""
    port = free_port()
    env = {**os.environ}
    process = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "serve-otlp", "--experiment", "live", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"serve-otlp did not start: {process.stderr.read() if process.stderr else ''}")
        time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(10)


def test_the_opentelemetry_sdk_exports_straight_into_an_experiment(receiver: str) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "shop-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver}/v1/traces")))
    tracer = provider.get_tracer("shop")
    trace_ids = []
    for i in range(3):
        with tracer.start_as_current_span("answer") as root:
            root.set_attribute("openinference.span.kind", "CHAIN")
            root.set_attribute("input.value", json.dumps({"question": f"order {i} broken"}))
            root.set_attribute("session.id", "s-1")
            with tracer.start_as_current_span("llm") as child:
                child.set_attribute("openinference.span.kind", "LLM")
                child.set_attribute("llm.model_name", "gpt-4o-mini")
                child.set_attribute("output.value", f"reply {i}")
            root.set_attribute("output.value", f"reply {i}")
            trace_ids.append(format(root.get_span_context().trace_id, "032x"))
    assert provider.force_flush(10_000)
    provider.shutdown()
    traces = [accord.get_trace(t) for t in trace_ids]
    assert [t.inputs for t in traces] == [{"question": f"order {i} broken"} for i in range(3)]
    assert all(t.outputs == f"reply {i}" and t.session_id == "s-1" for i, t in enumerate(traces))
    assert all([s.span_type for s in t.spans] == ["CHAIN", "LLM"] for t in traces)
    assert traces[0].tags["service.name"] == "shop-app"
    live = get_store().resolve_experiment("live")
    assert len(accord.search_traces(experiment_ids=[live.experiment_id], return_type="list")) == 3


def test_the_receiver_takes_gzip_json_and_refuses_what_it_should(receiver: str) -> None:
    body = (DATA / "otlp_collector.jsonl").read_text().splitlines()[1].encode()
    sent = httpx.post(
        f"{receiver}/v1/traces",
        content=gzip.compress(body),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert sent.status_code == 200, sent.text
    assert accord.get_trace(T1).spans[0].name == "answer_customer"
    port = receiver.rsplit(":", 1)[1]
    rebinding = httpx.post(
        f"{receiver}/v1/traces",
        content=body,
        headers={"Content-Type": "application/json", "Host": f"evil.example:{port}"},
    )
    assert rebinding.status_code == 421
    cross_site = httpx.post(
        f"{receiver}/v1/traces",
        content=body,
        headers={"Content-Type": "application/json", "Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    assert httpx.post(f"{receiver}/v1/traces", content=body, headers={"Content-Type": "text/plain"}).status_code == 415
    garbage = httpx.post(
        f"{receiver}/v1/traces", content=b"\x00\xffnot protobuf", headers={"Content-Type": "application/x-protobuf"}
    )
    assert garbage.status_code == 400
    assert httpx.options(f"{receiver}/v1/traces", headers={"Origin": "https://evil.example"}).status_code in (403, 405)


def test_serve_otlp_off_loopback_needs_a_token() -> None:
    result = CliRunner().invoke(app, ["serve-otlp", "--experiment", "x", "--host", "0.0.0.0"])
    assert result.exit_code == 1 and "token" in result.output
