"""Security headers on every response (404s included: this is a `before_send` hook, not a
route middleware); HSTS only when the request came over https, directly or as told by a
trusted proxy (`forwarded_headers`). And the web session's cookie and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Any

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services.access import MUTATING_METHODS
from shared.accounts.keys import subkey
from shared.config import Settings
from shared.errors import Forbidden

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=31536000; includeSubDomains"


def forwarded_headers(settings: Settings) -> list[Any]:
    """The middleware that believes X-Forwarded-For and X-Forwarded-Proto, from the proxies in
    JETDECK_TRUSTED_PROXIES only (uvicorn's own, given CIDRs): then the client's IP (sign-in
    limits, audit rows, logins) is the one the proxy saw, and a request the proxy received
    over TLS counts as https (the session cookie gets `Secure`, responses HSTS). From anyone
    else the headers are ignored, so a client cannot choose its IP."""
    proxies = settings.app.trusted_proxies
    if not proxies:
        return []

    def believe_trusted_proxies(app: ASGIApp) -> ASGIApp:
        return ProxyHeadersMiddleware(app, trusted_hosts=list(proxies))  # type: ignore[arg-type,return-value]

    return [believe_trusted_proxies]


async def security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in HEADERS.items():
        if name not in headers:
            headers[name] = value
    if scope.get("scheme") == "https":
        headers["Strict-Transport-Security"] = HSTS


# The web session: an httpOnly cookie plus a CSRF token (ARCHITECTURE.md decision 9).
# Routes whose layers set `opt={COOKIE_AUTH: True}` (the web app) accept the session cookie as
# an alternative to a bearer token; the JSON API under /api/v1 takes bearer tokens only, so it
# needs no CSRF defence. A cookie-authenticated POST/PUT/PATCH/DELETE must carry the session's
# CSRF token in `X-CSRF-Token` or the form field `csrf_token`.
COOKIE_AUTH = "session_cookie"
SESSION_COOKIE = "jetdeck_session"
LOGIN_CSRF_COOKIE = "jetdeck_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
CSRF_PURPOSE = "jetdeck/web-session-csrf/v1"
LOGIN_CSRF_PURPOSE = "jetdeck/login-form-csrf/v1"
CSRF_REFUSED = (
    "The form's security token is missing or wrong (it may have expired): reload the page "
    "and try again. Nothing was changed."
)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _hmac(settings: Settings, purpose: str, value: str) -> str:
    return hmac.new(subkey(settings, purpose), value.encode(), hashlib.sha256).hexdigest()


def session_csrf_token(settings: Settings, login_id: uuid.UUID) -> str:
    """The synchronizer token of a web session: bound to its login, unforgeable without the
    server key, the same for the session's whole life (so several tabs work)."""
    return _hmac(settings, CSRF_PURPOSE, str(login_id))


def login_csrf_token(settings: Settings, nonce: str) -> str:
    """Before there is a session: the form carries a signature of the nonce in the
    `LOGIN_CSRF_COOKIE` cookie (a signed double submit)."""
    return _hmac(settings, LOGIN_CSRF_PURPOSE, nonce)


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


def csrf_matches(expected: str, presented: object) -> bool:
    return isinstance(presented, str) and hmac.compare_digest(
        expected.encode(), presented.encode("utf-8", "replace")
    )


def cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key != b"cookie":
            continue
        for pair in value.decode("latin-1").split(";"):
            cookie_name, _, cookie_value = pair.strip().partition("=")
            if cookie_name == name and cookie_value:
                return cookie_value
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == name), None)


async def presented_csrf_token(scope: Scope, receive: Receive) -> str | None:
    """The header, or else the form field (the form is parsed once: the handler reuses it)."""
    header = _header(scope, CSRF_HEADER.encode())
    if header:
        return header
    content_type = (_header(scope, b"content-type") or "").lower()
    if not content_type.startswith(FORM_TYPES):
        return None
    value = (await Request[Any, Any, Any](scope, receive).form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else None


async def require_csrf(
    scope: Scope, receive: Receive, settings: Settings, login_id: uuid.UUID | None
) -> None:
    """Refuse (403, before the handler runs) a cookie-authenticated mutation without the
    session's CSRF token."""
    if scope.get("method") not in MUTATING_METHODS:
        return
    presented = await presented_csrf_token(scope, receive)
    if login_id is None or not csrf_matches(session_csrf_token(settings, login_id), presented):
        raise Forbidden(CSRF_REFUSED, code="csrf_failed")
