"""Deny by default: every route declares access, and the guard gives exactly the status its
level promises to every kind of caller. The matrix walks `app.routes`, so routes added by
other features later are covered without touching this file."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar, get, post

import services.api.app as api_app
from services.access import Access, access, declared_access, undeclared_routes
from services.api.auth import ROLE_FOR_ACCESS
from services.app import create_app
from shared.accounts.roles import Role
from tests.fixtures.accounts import Accounts

ROLES = [Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER]


@dataclass
class Caller:
    name: str
    headers: dict[str, str]
    kind: str  # anonymous | user | api_key | stranger
    role: Role | None = None


def test_every_route_of_the_api_and_the_web_app_declares_access(app: Litestar) -> None:
    assert undeclared_routes(app) == []
    handlers = [h for r in app.routes for h in getattr(r, "route_handlers", [])]
    assert all(declared_access(h) is not None for h in handlers)


def _app_with(settings: Any, monkeypatch: pytest.MonkeyPatch, *handlers: Any) -> Litestar:
    monkeypatch.setattr(api_app, "API_HANDLERS", [*api_app.API_HANDLERS, *handlers])
    return create_app(settings)


def test_a_route_without_a_declared_access_refuses_to_start(settings, monkeypatch) -> None:
    @get("/forgotten", sync_to_thread=False)
    def forgotten() -> None: ...

    with pytest.raises(
        RuntimeError, match="without a declared access level: GET /api/v1/forgotten"
    ):
        _app_with(settings, monkeypatch, forgotten)


def test_a_mutating_route_without_an_audit_action_refuses_to_start(settings, monkeypatch) -> None:
    @post("/orgs/{org:str}/unrecorded", opt=access(Access.EDITOR), sync_to_thread=False)
    def unrecorded() -> None: ...

    with pytest.raises(RuntimeError, match="without an audit action"):
        _app_with(settings, monkeypatch, unrecorded)


def test_an_explicit_audit_exemption_is_accepted(settings, monkeypatch) -> None:
    @post("/ping", opt=access(Access.PUBLIC, audit_exempt="changes nothing"), sync_to_thread=False)
    def ping() -> None: ...

    assert _app_with(settings, monkeypatch, ping)


def test_an_org_role_on_a_path_without_an_org_refuses_to_start(settings, monkeypatch) -> None:
    @get("/orgless", opt=access(Access.ADMIN), sync_to_thread=False)
    def orgless() -> None: ...

    with pytest.raises(RuntimeError, match="no \\{org\\} path parameter"):
        _app_with(settings, monkeypatch, orgless)


def _concrete(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if name == "org":
            return "acme"
        return {"uuid": str(uuid.uuid4()), "int": "1", "float": "1"}.get(kind, "probe")

    return re.sub(r"\{(\w+):(\w+)\}", value, path)


async def _callers(accounts: Accounts) -> list[Caller]:
    callers = [Caller("anonymous", {}, "anonymous")]
    for role in ROLES:
        callers.append(Caller(f"user {role}", await accounts.auth_headers(role), "user", role))
    for role in ROLES:
        callers.append(
            Caller(f"api key {role}", await accounts.api_key_headers(role), "api_key", role)
        )
    callers.append(
        Caller(
            "owner of another org", await accounts.auth_headers(Role.OWNER, "globex"), "stranger"
        )
    )
    return callers


def _expected(level: Access, users_only: bool, caller: Caller) -> int | None:
    """The status the guard must answer with, or None when the caller must get past it."""
    if level == Access.PUBLIC:
        return None
    if caller.kind == "anonymous":
        return 401
    if level == Access.AUTHENTICATED:
        return 403 if users_only and caller.kind == "api_key" else None
    if caller.kind == "stranger":
        return 404
    assert caller.role is not None
    if users_only and caller.kind == "api_key":
        return 403
    return None if caller.role.at_least(ROLE_FOR_ACCESS[level]) else 403


async def test_every_route_answers_every_kind_of_caller_as_its_access_level_says(
    app: Litestar, client, accounts: Accounts
) -> None:
    callers = await _callers(accounts)
    checked = 0
    failures = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            level = declared_access(handler)
            assert level is not None
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                path = _concrete(route.path)
                for caller in callers:
                    kwargs: dict[str, Any] = {"headers": caller.headers}
                    if method in {"POST", "PUT", "PATCH"}:
                        kwargs["json"] = {}
                    response = await client.request(method, path, **kwargs)
                    expected = _expected(level, bool(handler.opt.get("users_only")), caller)
                    code = (
                        response.json().get("code")
                        if "json" in response.headers.get("content-type", "")
                        else None
                    )
                    if expected is None:
                        ok = response.status_code not in (401, 403, 500) and code != "org_not_found"
                    elif expected == 404:
                        ok = response.status_code == 404 and code == "org_not_found"
                    else:
                        ok = response.status_code == expected
                    if not ok:
                        failures.append(
                            f"{method} {route.path} as {caller.name}: got {response.status_code} "
                            f"{code}, expected {expected or 'past the guard'}"
                        )
                    checked += 1
    assert failures == []
    assert checked >= 10 * len(callers)
