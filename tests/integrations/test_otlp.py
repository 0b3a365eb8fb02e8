"""OpenTelemetry in: an OTLP JSON file as a collector's file exporter writes it, and the OpenTelemetry SDK's
own OTLP/HTTP exporter sending spans to `accord traces serve-otlp` (started as a real process on 127.0.0.1)."""

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


def start_receiver(**env: str) -> tuple[subprocess.Popen, str]:  # type: ignore[type-arg]
    """`accord traces serve-otlp` in its own process, with this test's store (and `env` added)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "traces", "serve-otlp", "--experiment", "live", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"serve-otlp did not start: {process.stderr.read() if process.stderr else ''}")
        time.sleep(0.2)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[str]:
    process, url = start_receiver()
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
    result = CliRunner().invoke(app, ["traces", "serve-otlp", "--experiment", "x", "--host", "0.0.0.0"])
    assert result.exit_code == 1 and "token" in result.output


def _span(trace: int, span: int, parent: int | None, name: str = "step") -> dict:
    item = {
        "traceId": f"{trace:032x}",
        "spanId": f"{span:016x}",
        "name": name,
        "startTimeUnixNano": str(1_700_000_000_000_000_000 + span),
        "endTimeUnixNano": str(1_700_000_000_100_000_000 + span),
        "attributes": [{"key": "input.value", "value": {"stringValue": f"in {trace}"}}],
    }
    if parent is not None:
        item["parentSpanId"] = f"{parent:016x}"
    return item


def _request(spans: list[dict]) -> dict:
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": spans}]}]}


def test_spans_of_one_trace_sent_at_once_by_many_clients_are_all_stored(receiver: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    traces = 40
    batches = []
    for t in range(1, traces + 1):
        base = t * 100
        batches.append([_span(t, base, None, "root"), _span(t, base + 1, base)])  # root and child together
        batches += [[_span(t, base + k, base)] for k in (2, 3, 4)]  # then three more children each
    with httpx.Client(timeout=60) as client, ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda spans: client.post(f"{receiver}/v1/traces", json=_request(spans)).status_code, batches)
        )
    assert answers == [200] * len(batches)
    stored = get_store().get_traces([f"{t:032x}" for t in range(1, traces + 1)])
    assert sum(len(t.spans) for t in stored) == traces * 5  # every acknowledged span is in the store
    assert all(t.spans[0].name == "root" for t in stored)


def test_a_span_never_rewrites_a_trace_of_another_experiment_and_bad_otlp_is_a_400(receiver: str) -> None:
    golden = get_store().get_or_create_experiment("golden-set")
    get_store().insert_traces(
        [accord.Trace(trace_id=f"{7:032x}", inputs="expert saw this", outputs="o")], golden.experiment_id
    )
    crossing = httpx.post(f"{receiver}/v1/traces", json=_request([_span(8, 1, None), _span(7, 2, None)]))
    assert crossing.status_code == 409 and "another experiment" in crossing.text
    assert accord.get_trace(f"{7:032x}").inputs == "expert saw this"
    assert not get_store().existing_trace_ids([f"{8:032x}"])  # the request was applied whole or not at all
    deep = '{"stringValue": "x"}'
    for _ in range(240):  # written as text: too deep for the json module to encode
        deep = '{"kvlistValue": {"values": [{"key": "k", "value": ' + deep + "}]}}"
    nested = json.dumps(_request([_span(9, 1, None)])).replace(
        '"attributes": [', '"attributes": [{"key": "deep", "value": ' + deep + "}, "
    )
    late = _span(10, 1, None)
    late["startTimeUnixNano"] = str(10**21)
    for body, where in (
        ({"resourceSpans": "abc"}, "resourceSpans must be a list"),
        (_request([5]), "spans[0] must be an object"),  # type: ignore[list-item]
        (_request([late]), "startTimeUnixNano"),
        ({"resourceSpans": [{"scopeSpans": [{"spans": [_span(11, 1, None)]}]}, "x"]}, "resourceSpans[1]"),
    ):
        answer = httpx.post(f"{receiver}/v1/traces", json=body)
        assert answer.status_code == 400 and where in answer.text, (body, answer.text)
    sent = httpx.post(f"{receiver}/v1/traces", content=nested, headers={"Content-Type": "application/json"})
    assert sent.status_code in (200, 400), sent.text  # stored, or refused by name: never a server error
    assert not get_store().existing_trace_ids([f"{11:032x}"])  # the mixed request stored nothing


def test_a_chunked_body_is_bounded_while_it_is_read(receiver: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from accord.integrations import otlp_server

    def chunks():
        yield b'{"resourceSpans": ['
        for _ in range(40):
            yield b" " * (1024 * 1024)  # 40 MiB of padding, no Content-Length
        yield b"]}"

    answer = httpx.post(
        f"{receiver}/v1/traces", content=chunks(), headers={"Content-Type": "application/json"}, timeout=60
    )
    assert answer.status_code == 413 and str(otlp_server.MAX_BODY) in answer.text


def test_clients_that_never_finish_their_headers_are_dropped(tmp_path: Path) -> None:
    import socket

    process, url = start_receiver(ACCORD_HEADER_TIMEOUT_S="1")
    port = int(url.rsplit(":", 1)[1])
    try:
        slow = []
        for _ in range(50):
            client = socket.create_connection(("127.0.0.1", port), timeout=10)
            client.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
            slow.append(client)
        started = time.monotonic()
        for client in slow:
            assert client.recv(1024) == b""  # closed by the receiver
            client.close()
        assert time.monotonic() - started < 8
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200  # still serving
    finally:
        process.terminate()
        process.wait(10)
