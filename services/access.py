"""Every route declares who may call it; a route that declares nothing is refused at start-up.

A handler says `opt=access(Access.PUBLIC)` (or a role). `assert_every_route_declares_access`
runs when the app is built, so a forgotten declaration is a start-up error, never an open door.
It also refuses an organization role on a path without `{org}`, and a mutating route
(POST/PUT/PATCH/DELETE) with neither an audit action (`audit="stream.create"`) nor a stated
reason it changes nothing worth recording (`audit_exempt="..."`, e.g. signing in).
The middleware that enforces the levels is in `services/api/auth.py`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from litestar import Litestar


class Access(StrEnum):
    PUBLIC = "public"  # anyone: health, login
    AUTHENTICATED = "authenticated"  # any signed-in user or key, no organization needed
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"
    OWNER = "owner"


MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


ORG_LEVELS = frozenset({Access.VIEWER, Access.EDITOR, Access.ADMIN, Access.OWNER})


def access(
    level: Access,
    *,
    audit: str | None = None,
    audit_exempt: str | None = None,
    users_only: bool = False,
    statuses: tuple[int, ...] = (),
) -> dict[str, Any]:
    """Route options: who may call it, and for a mutation the audit action it records
    (`stream.create`). A mutating route without an audit action is refused at start-up
    unless `audit_exempt` says why it needs none. `users_only` refuses API keys (403).
    `statuses`: error statuses the route answers beyond those its access and kind imply
    (services/api/app.py `answerable_statuses`), e.g. 429 for a capped resource."""
    if audit is not None and audit_exempt is not None:
        raise ValueError("a route is either audited or exempt, not both")
    opt: dict[str, Any] = {"access": level}
    if audit is not None:
        opt["audit"] = audit
    if audit_exempt is not None:
        opt["audit_exempt"] = audit_exempt
    if users_only:
        opt["users_only"] = True
    if statuses:
        opt["statuses"] = tuple(statuses)
    return opt


def _framework_handler(handler: Any) -> bool:
    """Handlers Litestar itself adds (OPTIONS answers, the OpenAPI document and its UI)."""
    fn = getattr(handler.fn, "func", handler.fn)
    return getattr(fn, "__module__", "").startswith("litestar.")


def is_framework_handler(handler: Any) -> bool:
    """Handlers Litestar itself adds (OPTIONS answers, the OpenAPI document and its UI)."""
    return _framework_handler(handler)


def declared_access(handler: Any) -> Access | None:
    """The handler's level; Litestar's own handlers (OPTIONS, the OpenAPI docs) are public."""
    level = handler.opt.get("access")
    if isinstance(level, Access):
        return level
    return Access.PUBLIC if _framework_handler(handler) else None


def undeclared_routes(app: Litestar) -> list[str]:
    missing = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if isinstance(handler.opt.get("access"), Access):
                continue
            if _framework_handler(handler):
                continue
            methods = ",".join(sorted(getattr(handler, "http_methods", []) or ["WS"]))
            missing.append(f"{methods} {route.path}")
    return missing


def unaudited_mutations(app: Litestar) -> list[str]:
    missing = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            methods = set(getattr(handler, "http_methods", None) or ())
            if not methods & MUTATING_METHODS or _framework_handler(handler):
                continue
            if handler.opt.get("audit") or handler.opt.get("audit_exempt"):
                continue
            missing.append(f"{','.join(sorted(methods))} {route.path}")
    return missing


def org_routes_without_org(app: Litestar) -> list[str]:
    wrong = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.opt.get("access") in ORG_LEVELS and "org" not in route.path_parameters:
                wrong.append(route.path)
    return wrong


def assert_every_route_declares_access(app: Litestar) -> None:
    missing = undeclared_routes(app)
    if missing:
        raise RuntimeError("Routes without a declared access level: " + ", ".join(missing))
    unaudited = unaudited_mutations(app)
    if unaudited:
        raise RuntimeError(
            "Mutating routes without an audit action (access(..., audit='thing.verb')) or a "
            "stated exemption (audit_exempt='why'): " + ", ".join(unaudited)
        )
    orgless = org_routes_without_org(app)
    if orgless:
        raise RuntimeError(
            "Routes with an organization role but no {org} path parameter: " + ", ".join(orgless)
        )
