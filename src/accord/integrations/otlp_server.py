"""`accord traces serve-otlp`: an OTLP/HTTP receiver at /v1/traces (protobuf or JSON, gzip or not), so that an
application instrumented with the OpenTelemetry SDK sends its traces straight into an experiment.

Like the review page it binds to 127.0.0.1, answers only the host names it was started for, and needs a
bearer token when exposed. It never answers CORS preflights, and a request from a browser page of another
origin is refused, so no web page can post traces into it.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from accord.errors import ConfigError
from accord.integrations.otlp import TraceIdConflict, ingest
from accord.web.security import allowed_hosts, bearer_ok, host_allowed, origin_allowed, with_headers

MAX_BODY = 32 * 1024 * 1024  # bytes of one request, before and after decompression
PROTOBUF = "application/x-protobuf"


def _decode(body: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(body, MAX_BODY + 1)
        if len(data) > MAX_BODY:
            raise ValueError(f"the decompressed request is over {MAX_BODY} bytes")
        return data
    raise ValueError(f"unsupported Content-Encoding {encoding!r} (send gzip or none)")


def _protobuf_request(body: bytes) -> dict[str, Any]:
    try:
        from google.protobuf.json_format import MessageToDict
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    except ImportError as exc:
        raise ConfigError("OTLP protobuf needs opentelemetry-proto: pip install 'accord[otel]'") from exc
    message = ExportTraceServiceRequest()
    message.ParseFromString(body)
    return MessageToDict(message)


def _protobuf_response() -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    return ExportTraceServiceResponse().SerializeToString()


def create_otlp_app(experiment: str, token: str | None = None, hosts: frozenset[str] | None = None) -> FastAPI:
    hosts = hosts or allowed_hosts()
    app = FastAPI(title="accord OTLP receiver", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        if not host_allowed(request, hosts):
            return with_headers(PlainTextResponse("421: not a host name this receiver serves", 421))
        if not origin_allowed(request, hosts):
            return with_headers(PlainTextResponse("403: requests from other web origins are refused", 403))
        if token is not None and not bearer_ok(request, token):
            return with_headers(PlainTextResponse("401: send the receiver's token as Authorization: Bearer", 401))
        return with_headers(await call_next(request))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/traces")
    async def traces(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY:
            return PlainTextResponse(f"413: a request is at most {MAX_BODY} bytes", 413)
        chunks, size = [], 0
        async for chunk in request.stream():  # bounded while it is read: a chunked body declares no length
            size += len(chunk)
            if size > MAX_BODY:
                return PlainTextResponse(f"413: a request is at most {MAX_BODY} bytes", 413)
            chunks.append(chunk)
        body = b"".join(chunks)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            body = _decode(body, request.headers.get("content-encoding", "").strip().lower())
            if kind == PROTOBUF:
                parsed, encoding = _protobuf_request(body), "base64"
            elif kind == "application/json":
                parsed, encoding = json.loads(body), "hex"
                if not isinstance(parsed, dict):
                    raise ValueError("the body is not an ExportTraceServiceRequest object")
            else:
                return PlainTextResponse("415: send application/x-protobuf or application/json", 415)
            report = await run_in_threadpool(ingest, [parsed], experiment, encoding)  # type: ignore[arg-type]
        except TraceIdConflict as exc:
            return PlainTextResponse(f"409: {exc}", 409)
        except RecursionError:
            return PlainTextResponse("400: unreadable OTLP request: nested too deep", 400)
        except (ValueError, TypeError, KeyError, zlib.error, gzip.BadGzipFile) as exc:
            return PlainTextResponse(f"400: unreadable OTLP request: {exc}", 400)
        except Exception as exc:  # protobuf's DecodeError and friends: the sender's fault, reported to it
            if type(exc).__name__ == "DecodeError":
                return PlainTextResponse(f"400: unreadable OTLP protobuf: {exc}", 400)
            raise
        if kind == PROTOBUF:
            return Response(_protobuf_response(), media_type=PROTOBUF)
        return JSONResponse({"partialSuccess": {}} if report.spans else {})

    return app


def serve(
    experiment: str,
    host: str = "127.0.0.1",
    port: int = 4318,
    token: str | None = None,
    extra_hosts: list[str] | None = None,
) -> None:
    from accord.web.serving import run

    run(create_otlp_app(experiment, token, allowed_hosts(host, extra_hosts or [])), host, port)
