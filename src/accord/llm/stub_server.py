"""A minimal OpenAI-compatible chat server on 127.0.0.1, for tests and benchmarks of the remote path.

    with StubServer(latency_s=0.2) as server:
        judge = make_judge(..., model=f"openai:/stub?base_url={server.base_url}")

`faults` is a list consumed one per request: an int status (429 sends `Retry-After`), "timeout" (sleeps
past the client's timeout) or None (answer normally). Answers come from `reply(request_json)`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _default_reply(request: dict[str, Any]) -> str:
    schema = ((request.get("response_format") or {}).get("json_schema") or {}).get("schema") or {}
    result = schema.get("properties", {}).get("result", {})
    value = result["enum"][0] if "enum" in result else True
    return json.dumps({"rationale": "stub answer", "result": value})


class _QuietServer(ThreadingHTTPServer):
    # the listen backlog: read when the socket starts listening, in the constructor, so it must be set here
    # (set on the instance afterwards it did nothing, and bursts of connections were refused under load)
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that gave up (the timeout fault) is expected, not news


class StubServer:
    def __init__(
        self,
        latency_s: float = 0.0,
        faults: list[int | str | None] | None = None,
        reply: Callable[[dict[str, Any]], str] = _default_reply,
        retry_after_s: float = 0.05,
        timeout_sleep_s: float = 2.0,
    ) -> None:
        self.latency_s = latency_s
        self.faults = list(faults or [])
        self.reply = reply
        self.retry_after_s = retry_after_s
        self.timeout_sleep_s = timeout_sleep_s
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []  # each request's Authorization header ("" when none)
        self.arrivals: list[tuple[float, int | str | None]] = []  # (time.time(), the fault it got) per request
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_fault(self) -> int | str | None:
        with self._lock:
            return self.faults.pop(0) if self.faults else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, as from a real server

            def log_message(self, *_: object) -> None:  # keep test output clean
                return

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.requests.append(request)
                    stub.authorizations.append(self.headers.get("Authorization") or "")
                fault = stub._next_fault()
                with stub._lock:
                    stub.arrivals.append((time.time(), fault))
                if fault == "timeout":
                    time.sleep(stub.timeout_sleep_s)
                    return self._send(200, {"error": "too late"})
                if isinstance(fault, int):
                    headers = {"Retry-After": str(stub.retry_after_s)} if fault == 429 else {}
                    return self._send(fault, {"error": {"message": f"stub fault {fault}", "type": "stub"}}, headers)
                if stub.latency_s:
                    time.sleep(stub.latency_s)
                content = stub.reply(request)
                self._send(
                    200,
                    {
                        "id": "stub",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": request.get("model", "stub"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    },
                )

        return Handler


def main() -> None:
    """Serve from its own process (so a benchmark's client and server don't share one interpreter)."""
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    with StubServer(latency_s=args.latency) as server:
        sys.stdout.write(server.base_url + "\n")
        sys.stdout.flush()
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    main()
