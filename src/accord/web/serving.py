"""Running the web servers (the review page, the OTLP receiver) with bounds on slow clients.

uvicorn starts no timer when a connection opens, so a client that sends half a request line and then waits
holds its connection (and a slot) for ever; a thousand such clients were held for over 20 s. Here every
connection must finish its request's headers within HEADER_TIMEOUT_S of opening, or of its previous answer,
or it is closed; idle keep-alive connections close after KEEP_ALIVE_S; and at most MAX_CONNECTIONS are served
at once (more get 503)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

HEADER_TIMEOUT_S = float(os.environ.get("ACCORD_HEADER_TIMEOUT_S", "10"))
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 1000


def _protocol() -> type:
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class BoundedH11Protocol(H11Protocol):  # type: ignore[misc]
        """H11Protocol with a deadline for a request's headers."""

        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _between_requests(self) -> bool:
            return self.cycle is None or bool(getattr(self.cycle, "response_complete", False))

        def _too_slow(self) -> None:
            self._header_timer = None
            if self._between_requests() and not self.transport.is_closing():  # headers never finished: drop it
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            waiting = self._between_requests()
            if waiting:  # bytes of a request that has not started yet: its deadline runs from the first of them
                self._arm()
            super().data_received(data)
            if not self._between_requests():  # the headers are in: the app has the request now
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return BoundedH11Protocol


def run(app: Any, host: str, port: int, **options: Any) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_protocol(),
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=MAX_CONNECTIONS,
        log_level="warning",
        **options,
    )
    uvicorn.Server(config).run()
