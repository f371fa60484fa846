"""Signing in and out in the browser: a plain form, no JavaScript needed.

`POST /login` checks the password through the same service as `POST /api/v1/auth/login`
(same single answer for an unknown email and a wrong password, same attempt limits) and
opens a web session: an httpOnly cookie holding an opaque token. The form itself is guarded
by a signed double-submit token, since there is no session yet to bind one to.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect

from services.access import Access, access
from services.api.auth import WEB_SESSION, Principal
from services.api.security import (
    CSRF_FIELD,
    CSRF_REFUSED,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_matches,
    login_csrf_token,
    new_login_nonce,
)
from services.web.pages import NO_STORE, page, session_user
from shared.accounts import web_sessions
from shared.backends import Backends
from shared.db.base import utcnow
from shared.errors import NotAuthenticated, RateLimited

NOT_AUDITED = "a sign-in or sign-out changes no organization's data"
LOGIN_NONCE_MAX_AGE = 12 * 3600
MISSING_FIELDS = "Enter your email address and your password."


def safe_next(value: object) -> str:
    """A local path to go to after signing in; anything else (another site, `//host`,
    `/\\host`, a scheme) means the home page, so the form cannot be an open redirect."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def _https(request: Request[Any, Any, Any]) -> bool:
    # A trusted proxy's X-Forwarded-Proto sets the scheme (services/api/security.py).
    return request.scope.get("scheme") == "https"


def _form_page(
    request: Request[Any, Any, Any],
    backends: Backends,
    next_url: str,
    *,
    error: str | None = None,
    email: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """The sign-in form, with a login CSRF token signed over the nonce cookie (made when
    the browser has none)."""
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE)
    fresh = not nonce
    nonce = nonce or new_login_nonce()
    response = page(
        "login.html",
        backends,
        None,
        status_code=status_code,
        headers=headers,
        form_token=login_csrf_token(backends.settings, nonce),
        next_url=next_url,
        error=error,
        email=email,
    )
    if fresh:
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            nonce,
            max_age=LOGIN_NONCE_MAX_AGE,
            path="/login",
            secure=_https(request),
            httponly=True,
            samesite="lax",
        )
    return response


@get("/login", opt=access(Access.PUBLIC))
async def login_form(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    next_url: Annotated[str | None, QueryParameter(name="next")] = None,
) -> Response[Any]:
    if await session_user(request, backends) is not None:
        return Redirect(safe_next(next_url), status_code=303)
    return _form_page(request, backends, safe_next(next_url))


@post("/login", opt=access(Access.PUBLIC, audit_exempt=NOT_AUDITED))
async def login(
    request: Request[Any, Any, Any], backends: NamedDependency[Backends]
) -> Response[Any]:
    form = await request.form()
    email, password = str(form.get("email") or "").strip(), str(form.get("password") or "")
    next_url = safe_next(form.get("next") or request.query_params.get("next"))
    if not email or not password:
        return _form_page(
            request, backends, next_url, error=MISSING_FIELDS, email=email, status_code=400
        )
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not nonce or not csrf_matches(
        login_csrf_token(backends.settings, nonce), form.get(CSRF_FIELD)
    ):
        return _form_page(
            request, backends, next_url, error=CSRF_REFUSED, email=email, status_code=403
        )
    ip = request.client.host if request.client else None
    try:
        started = await web_sessions.sign_in(
            backends, email, password, ip=ip, user_agent=request.headers.get("user-agent")
        )
    except RateLimited as exc:
        return _form_page(
            request,
            backends,
            next_url,
            error=f"Too many failed sign-in attempts; try again in {exc.retry_after} seconds.",
            email=email,
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except NotAuthenticated as exc:  # the same answer for an unknown email and a wrong password
        return _form_page(
            request, backends, next_url, error=exc.detail, email=email, status_code=400
        )
    response = Redirect(next_url, status_code=303, headers=NO_STORE)
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        max_age=max(int((started.expires_at - utcnow()).total_seconds()), 1),
        path="/",
        secure=_https(request),
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@post("/logout", opt=access(Access.AUTHENTICATED, users_only=True, audit_exempt=NOT_AUDITED))
async def logout(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    backends: NamedDependency[Backends],
) -> Response[Any]:
    """Ends the session the cookie names (the access middleware has checked its CSRF token).
    A bearer-authenticated caller has no web session: API clients sign out at
    `POST /api/v1/auth/logout`."""
    if request.scope["state"].get(WEB_SESSION) and principal.login_id is not None:
        await web_sessions.sign_out(backends, principal.login_id)
    response = Redirect("/login", status_code=303, headers=NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
