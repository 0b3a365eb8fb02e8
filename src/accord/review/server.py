"""Starting the review page: loopback by default, never exposed without an access token."""

from __future__ import annotations

from accord.review.app import ReviewSettings, create_app
from accord.web.security import check_exposure
from accord.web.serving import run

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def serve(settings: ReviewSettings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    settings.token = check_exposure(host, settings.token)
    settings.host = host
    run(create_app(settings), host, port, access_log=False)
