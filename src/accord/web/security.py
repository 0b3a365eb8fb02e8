"""Access token, cross-site request forgery protection and security headers for the review page.

- Token: when the server has one, every request must carry it: `Authorization: Bearer`, the cookie set on
  the first visit, or `?token=` in the link that visit used (then moved into the cookie and off the URL).
- Forgery: a random per-browser value in a SameSite=Strict cookie must come back with every POST, in the
  form field `csrf` or the `X-CSRF-Token` header; another site can neither read it nor make the browser
  send the cookie. A POST whose Origin is another host is refused too.
- Host names: the page answers only for the names it was started for (loopback names, the `--host` it binds
  and any `--allowed-host`), and a POST's Origin must be one of them. A web page on another domain that
  rebinds its name to 127.0.0.1 (DNS rebinding) gets 421 for every request.
- Headers: a Content-Security-Policy without inline scripts, so even escaped content could not run.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

TOKEN_COOKIE = "accord_token"
CSRF_COOKIE = "accord_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
TOKEN_ENV = "ACCORD_REVIEW_TOKEN"

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Handler = Callable[[Request], Awaitable[Response]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def allowed_hosts(bind_host: str | None = None, extra: Sequence[str] = ()) -> frozenset[str]:
    """The host names the page answers for (lower case, IPv6 without brackets)."""
    names = [*LOOPBACK_NAMES, *(extra or ())]
    if bind_host and bind_host not in ("0.0.0.0", "::"):  # a wildcard bind names no host
        names.append(bind_host)
    return frozenset(n.strip().strip("[]").lower() for n in names if n and n.strip())


def _hostname(netloc: str | None) -> str | None:
    """'example.org:8765' -> 'example.org', '[::1]:80' -> '::1'; None when unreadable."""
    if not netloc:
        return None
    try:
        return urlsplit(f"//{netloc}").hostname
    except ValueError:
        return None


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


def host_allowed(request: Request, hosts: frozenset[str]) -> bool:
    """Whether the request names one of the hosts this server was started for (DNS rebinding defence)."""
    return _hostname(request.headers.get("host")) in hosts


def origin_allowed(request: Request, hosts: frozenset[str]) -> bool:
    """No Origin (not a browser), this page's own ("null" under no-referrer), or one of the served hosts."""
    origin = request.headers.get("origin")
    return not origin or origin == "null" or _hostname(urlsplit(origin).netloc) in hosts


def bearer_ok(request: Request, token: str) -> bool:
    return _same(request.headers.get("authorization", "").removeprefix("Bearer ").strip(), token)


def csrf_token(request: Request) -> str:
    """This browser's forgery-protection value (set as a cookie by the middleware when missing)."""
    return request.state.csrf


async def _csrf_ok(request: Request, hosts: frozenset[str]) -> bool:
    expected = request.cookies.get(CSRF_COOKIE)
    # "null": browsers send it for this page's own forms under Referrer-Policy: no-referrer; the token decides
    if not origin_allowed(request, hosts):
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        # the raw body, not request.form(): the body stays readable for the endpoint that follows
        values = parse_qs((await request.body()).decode("utf-8", "replace")).get(CSRF_FIELD)
        sent = values[0] if values else None
    return _same(sent, expected)


def security_middleware(
    token: str | None, hosts: frozenset[str] | None = None
) -> Callable[[Request, Handler], Awaitable[Response]]:
    hosts = hosts or allowed_hosts()

    async def middleware(request: Request, call_next: Handler) -> Response:
        if not host_allowed(request, hosts):
            return with_headers(
                PlainTextResponse(
                    "421: this review page answers only for the host names it was started for "
                    "(start it with --allowed-host NAME to add one)",
                    421,
                )
            )
        if token is not None:
            offered = request.query_params.get("token")
            if _same(offered, token) and request.method == "GET":
                query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
                here = "/" + request.url.path.lstrip("/\\")  # "//evil.example/" must stay on this site
                response: Response = RedirectResponse(here + (f"?{query}" if query else ""), 303)
                response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
                return with_headers(response)
            if not (bearer_ok(request, token) or _same(request.cookies.get(TOKEN_COOKIE), token)):
                return with_headers(
                    PlainTextResponse("401: this review page needs its access token (open the link with ?token=…)", 401)
                )
        new_csrf = None
        request.state.csrf = request.cookies.get(CSRF_COOKIE)
        if not request.state.csrf:
            new_csrf = request.state.csrf = secrets.token_urlsafe(24)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not await _csrf_ok(request, hosts):
            return with_headers(
                PlainTextResponse("403: refused, the request did not come from this review page (CSRF check)", 403)
            )
        response = await call_next(request)
        if new_csrf:
            response.set_cookie(CSRF_COOKIE, new_csrf, httponly=True, samesite="strict")
        return with_headers(response)

    return middleware


def with_headers(response: Response) -> Response:
    for key, value in HEADERS.items():
        response.headers.setdefault(key, value)
    return response


def check_exposure(host: str, token: str | None, what: str = "the review page") -> str | None:
    """The token to use (given, or ACCORD_REVIEW_TOKEN); a `ConfigError` when `what` would be reachable from
    elsewhere without one, or the token is too short to guess at."""
    from accord.config import settings
    from accord.errors import ConfigError

    token = token or settings().review_token
    if token is not None and len(token) < 16:
        raise ConfigError(
            "the access token must be at least 16 characters (try: python -c 'import secrets; "
            "print(secrets.token_urlsafe(24))')"
        )
    if not is_loopback(host) and token is None:
        raise ConfigError(
            f"refusing to serve {what} on {host} without an access token: pass --token or set "
            f"{TOKEN_ENV} (or bind to 127.0.0.1)"
        )
    return token
