"""Who is asking, and may they? One middleware enforces every route's declared access level.

It runs for every route, after routing and before the handler: it authenticates the bearer
token — or, on the web app's routes, the session cookie, and then refuses a mutation that
lacks the session's CSRF token (the only case where it reads a body: a form's `csrf_token`) —
and for an organization route (`{org}` in the path) resolves the caller's role there.
Handlers then receive the results through the `principal` and `org_context` dependencies.
(A Litestar guard would do the same, but Litestar copies the route handler for every guard
call, which costs more than a cached authentication.)

Statuses: no or bad credentials → 401 (which the web app turns into a redirect to its
sign-in page for a browser); a cookie-authenticated mutation without its CSRF token → 403;
an organization that is not the caller's (or not the API key's) → 404 `org_not_found`, so
existence is not revealed; a role too low → 403."""

from __future__ import annotations

from typing import Any

from litestar.di import NamedDependency, Provide
from litestar.types import ASGIApp, Receive, Scope, Send

from services.access import Access, declared_access
from services.api.security import COOKIE_AUTH, SESSION_COOKIE, cookie, require_csrf
from shared.accounts.authenticate import resolve
from shared.accounts.principals import OrgContext, Principal
from shared.accounts.roles import Role
from shared.backends import Backends
from shared.errors import Forbidden, NotAuthenticated

__all__ = [
    "ROLE_FOR_ACCESS",
    "OrgContext",
    "Principal",
    "Role",
    "access_middleware",
    "authorize",
    "dependencies",
]

ROLE_FOR_ACCESS = {
    Access.VIEWER: Role.VIEWER,
    Access.EDITOR: Role.EDITOR,
    Access.ADMIN: Role.ADMIN,
    Access.OWNER: Role.OWNER,
}
ORG_PARAMETER = "org"
SIGN_IN = "Sign in: send `Authorization: Bearer <token>`."
USERS_ONLY = (
    "This needs a signed-in user, not an API key: what a key creates (keys, invitations, "
    "organizations) would outlive the key's revocation."
)
WEB_SESSION = "web_session"  # scope state: True when the session cookie authenticated


def bearer_token(scope: Scope) -> str | None:
    header = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), None)
    if not header:
        return None
    scheme, _, token = header.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authorize(scope: Scope, receive: Receive) -> None:
    """Refuse the request unless its route's access level admits the caller; record who it
    is in the scope's state for the dependencies and the audit trail. On the web app's
    routes the session cookie stands in for a bearer token (which wins when both are sent);
    a mutation authenticated by the cookie must carry the session's CSRF token."""
    handler: Any = scope["route_handler"]
    level = declared_access(handler)
    if level == Access.PUBLIC:
        return
    if level is None:  # refused at start-up; deny anyway, never open
        raise Forbidden("This route declares no access level.", code="forbidden")
    token = bearer_token(scope)
    by_cookie = False
    if token is None and handler.opt.get(COOKIE_AUTH):
        token = cookie(scope, SESSION_COOKIE)
        by_cookie = token is not None
    if token is None:
        raise NotAuthenticated(SIGN_IN)
    backends: Backends = scope["litestar_app"].state.backends
    org_slug = None if level == Access.AUTHENTICATED else str(scope["path_params"][ORG_PARAMETER])
    principal, ctx = await resolve(backends, token, org_slug, web_session=by_cookie)
    if by_cookie:
        await require_csrf(scope, receive, backends.settings, principal.login_id)
    state: dict[str, Any] = scope.setdefault("state", {})
    state["principal"] = principal
    state[WEB_SESSION] = by_cookie
    if handler.opt.get("users_only") and principal.kind != "user":
        raise Forbidden(USERS_ONLY, code="users_only")
    if level == Access.AUTHENTICATED:
        return
    assert ctx is not None
    if not ctx.role.at_least(ROLE_FOR_ACCESS[level]):
        raise Forbidden(
            f"This needs the {ROLE_FOR_ACCESS[level]} role; yours is {ctx.role}.",
            code="insufficient_role",
        )
    state["org_context"] = ctx


def access_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            await authorize(scope, receive)
        await app(scope, receive, send)

    return middleware


# `_principal` takes `backends` and `_org_context` takes `principal` only to chain them:
# Litestar resolves dependencies of equal depth concurrently in an anyio task group, which costs
# more than both (they only read what `authorize` stored) — a chain is resolved one by one.
def _principal(scope: Scope, backends: NamedDependency[Backends]) -> Principal:
    principal = scope.get("state", {}).get("principal")
    if principal is None:
        raise NotAuthenticated(SIGN_IN)
    return principal  # type: ignore[no-any-return, unused-ignore]


def _org_context(scope: Scope, principal: NamedDependency[Principal]) -> OrgContext:
    ctx = scope.get("state", {}).get("org_context")
    if ctx is None:  # a route asking for an org context must declare an org role
        raise Forbidden("This route has no organization access level.", code="forbidden")
    return ctx  # type: ignore[no-any-return, unused-ignore]


def dependencies() -> dict[str, Provide]:
    return {
        "principal": Provide(_principal, sync_to_thread=False),
        "org_context": Provide(_org_context, sync_to_thread=False),
    }
