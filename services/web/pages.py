"""What every page needs: who is signed in (on public pages too) and their CSRF token."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from services.api.auth import WEB_SESSION
from services.api.security import SESSION_COOKIE, session_csrf_token
from shared.accounts.authenticate import resolve
from shared.accounts.principals import Principal
from shared.backends import Backends
from shared.errors import NotAuthenticated

# Pages show who is signed in and a CSRF token: no shared cache may keep them.
NO_STORE = {"Cache-Control": "no-store"}


async def session_user(request: Request[Any, Any, Any], backends: Backends) -> Principal | None:
    """The user of the session cookie, if any and still valid. On a public page the access
    middleware authenticates nobody, so the page asks (through the same cached resolution)."""
    if request.scope.get("state", {}).get(WEB_SESSION):
        principal: Principal = request.scope["state"]["principal"]
        return principal
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        principal, _ = await resolve(backends, token, None, web_session=True)
    except NotAuthenticated:
        return None
    return principal


def page(
    name: str,
    backends: Backends,
    user: Principal | None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    """A full page; base.html shows the user with a sign-out form, or a sign-in link."""
    csrf = (
        session_csrf_token(backends.settings, user.login_id)
        if user is not None and user.login_id is not None
        else None
    )
    return Template(
        name,
        context={"user": user, "csrf_token": csrf, **context},
        status_code=status_code,
        headers={**NO_STORE, **(headers or {})},
    )
