"""Starting the review page: loopback by default, never exposed without an access token."""

from __future__ import annotations

from accord.config import settings
from accord.errors import ConfigError
from accord.review.app import ReviewSettings, create_app
from accord.review.security import TOKEN_ENV, is_loopback
from accord.review.serving import run

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def check_exposure(host: str, token: str | None) -> str | None:
    """The token to use; a `ConfigError` when the page would be reachable from elsewhere without one."""
    token = token or settings().review_token
    if token is not None and len(token) < 16:
        raise ConfigError(
            "the access token must be at least 16 characters (try: python -c 'import secrets; "
            "print(secrets.token_urlsafe(24))')"
        )
    if not is_loopback(host) and token is None:
        raise ConfigError(
            f"refusing to serve the review page on {host} without an access token: pass --token or set "
            f"{TOKEN_ENV} (or bind to 127.0.0.1)"
        )
    return token


def serve(settings: ReviewSettings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    settings.token = check_exposure(host, settings.token)
    settings.host = host
    run(create_app(settings), host, port, access_log=False)
