"""Errors on the web app's routes: a browser gets a page, never JSON.

A browser that is not signed in (or whose session ended) is sent to the sign-in page with
the page it wanted as `next`; htmx gets `HX-Redirect` instead of a redirect it would follow
into a fragment. Callers that do not ask for HTML (the API's clients, the access matrix)
get the API's JSON errors, so a web route answers them exactly as an API route would.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Redirect, Template

from services.api.errors import STATUS, domain_error_handler
from services.api.security import SESSION_COOKIE
from services.web.pages import NO_STORE
from shared import errors


def wants_html(request: Request[Any, Any, Any]) -> bool:
    return "text/html" in request.headers.get("accept", "")


def sign_in_url(request: Request[Any, Any, Any]) -> str:
    if request.method not in ("GET", "HEAD"):
        return "/login"
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(here, safe="/")


def web_error_handler(request: Request[Any, Any, Any], exc: errors.JetDeckError) -> Response[Any]:
    if isinstance(exc, errors.NotAuthenticated) and request.headers.get("hx-request"):
        response: Response[Any] = Response(
            b"", status_code=401, headers={"HX-Redirect": sign_in_url(request), **NO_STORE}
        )
    elif not wants_html(request):
        return domain_error_handler(request, exc)
    elif isinstance(exc, errors.NotAuthenticated):
        response = Redirect(sign_in_url(request), status_code=303, headers=NO_STORE)
    else:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        headers = dict(NO_STORE)
        if isinstance(exc, errors.RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        return Template(
            "error.html",
            context={"status": status, "detail": exc.detail, "user": None, "csrf_token": None},
            status_code=status,
            headers=headers,
        )
    if request.cookies.get(SESSION_COOKIE):  # it no longer opens anything
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


exception_handlers: dict[Any, Any] = {errors.JetDeckError: web_error_handler}
