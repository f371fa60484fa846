"""Deny by default: every route declares access, and the guard gives exactly the status its
level promises to every kind of caller.

The access matrix walks `app.routes` of the real app (API and web app), so a route added
later is covered without touching this file: the answer each caller must get derives from
the route's declared access (`handler.opt`, services/access.py), never from a list here. The
app runs under uvicorn with a populated organization (tests/fixtures/world.py), so requests
name real clusters, streams, consumers, members and keys and an allowed request gets past
the guard to the real work. Callers: anonymous; each role by access token and by API key;
another organization's owner; a revoked key; an expired token; a deactivated user; the web
session cookie with and without its CSRF token. Expected: 401 without valid credentials,
403 for a role too low (or an API key on a users-only route, or a cookie mutation without
CSRF), 404 `org_not_found` for another organization, and otherwise anything but 401/403/5xx.

Run alone: `pytest tests/services/api/test_access.py` (about 20 s).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from litestar import Litestar, get, post

import services.api.app as api_app
from services.access import MUTATING_METHODS, Access, access, declared_access, undeclared_routes
from services.api.auth import ROLE_FOR_ACCESS
from services.api.security import COOKIE_AUTH, CSRF_HEADER, SESSION_COOKIE, session_csrf_token
from services.app import create_app
from shared.accounts.roles import Role
from shared.config import MetricsSettings
from tests.fixtures.accounts import Accounts
from tests.fixtures.nats import NatsTarget, delete_every_stream
from tests.fixtures.world import World, build_world, serve

ROLES = [Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER]


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


# ------------------------------------------------------------------------------------------
# The access matrix.


@dataclass
class Caller:
    name: str
    headers: dict[str, str]
    # anonymous | user | api_key | stranger | invalid (credentials that no longer hold) |
    # cookie (the owner's web session; `csrf`: sends its CSRF token on mutations)
    kind: str
    role: Role | None = None
    csrf: bool = False


@dataclass
class Observation:
    method: str
    path: str
    caller: str
    status: int
    code: str | None
    expected: int | None  # None: past the guard


@dataclass
class Matrix:
    observations: list[Observation] = field(default_factory=list)
    routes: set[tuple[str, str]] = field(default_factory=set)


def _expected(
    level: Access, handler_opt: dict[str, Any], method: str, caller: Caller
) -> int | None:
    """The status the guard must answer with, or None when the caller must get past it."""
    assert level in (Access.PUBLIC, Access.AUTHENTICATED, *ROLE_FOR_ACCESS), (
        f"the matrix has no expectation for access level {level!r}: teach it the new level"
    )
    if level == Access.PUBLIC:
        return None
    kind, role = caller.kind, caller.role
    if kind == "cookie":
        # The cookie authenticates the web app only; there it is the owner's own session,
        # and a mutation must carry its CSRF token.
        if not handler_opt.get(COOKIE_AUTH):
            return 401
        if method in MUTATING_METHODS and not caller.csrf:
            return 403
        kind, role = "user", Role.OWNER
    if kind in ("anonymous", "invalid"):
        return 401
    if level == Access.AUTHENTICATED:
        return 403 if handler_opt.get("users_only") and kind == "api_key" else None
    if kind == "stranger":
        return 404
    assert role is not None
    if handler_opt.get("users_only") and kind == "api_key":
        return 403
    return None if role.at_least(ROLE_FOR_ACCESS[level]) else 403


def _concrete(path: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if name in values:
            return values[name]
        return {"uuid": str(uuid.uuid4()), "int": "1", "float": "1"}.get(kind, "probe")

    return re.sub(r"\{(\w+):(\w+)\}", value, path)


async def _callers(accounts: Accounts, world: World) -> list[Caller]:
    from shared.accounts import api_keys, tokens
    from shared.accounts.keys import JWT_PURPOSE, subkey
    from shared.accounts.users import deactivate_user
    from shared.accounts.web_sessions import start_web_session

    settings = accounts.backends.settings
    callers = [Caller("anonymous", {}, "anonymous")]
    for role in ROLES:
        callers.append(Caller(f"user {role}", await accounts.auth_headers(role), "user", role))
    for role in ROLES:
        headers = await accounts.api_key_headers(role)
        callers.append(Caller(f"api key {role}", headers, "api_key", role))
    stranger = await accounts.auth_headers(Role.OWNER, "globex")
    callers.append(Caller("owner of another org", stranger, "stranger"))

    # An admin key, revoked.
    revoked = await accounts.api_key(Role.ADMIN, name="revoked")
    listed = await api_keys.list_api_keys(accounts.backends, await _owner_ctx(accounts), 0, 1000)
    key_id = next(k.id for k in listed.items if k.name == "revoked")
    await api_keys.revoke_api_key(accounts.backends, await _owner_ctx(accounts), key_id)
    callers.append(Caller("revoked api key", {"Authorization": f"Bearer {revoked}"}, "invalid"))

    # The owner's token, an hour past its expiry (signed with the server's key).
    owner = await accounts.make_user(f"owner@{world.org}.test", org_slug=world.org, role="owner")
    login = tokens.read_access_token(settings, (await accounts.login(owner)).access_token)
    now = int(time.time())
    claims = {
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "sub": str(owner.id),
        "sid": str(login.login_id),
        "iat": now - 7200,
        "exp": now - 3600,
        "jti": uuid.uuid4().hex,
    }
    expired = jwt.encode(claims, subkey(settings, JWT_PURPOSE), algorithm=tokens.ALGORITHM)
    callers.append(Caller("expired token", {"Authorization": f"Bearer {expired}"}, "invalid"))

    # An owner, deactivated after signing in.
    gone = await accounts.make_user("gone@acme.test", org_slug=world.org, role="owner")
    gone_headers = {"Authorization": f"Bearer {(await accounts.login(gone)).access_token}"}
    await deactivate_user(accounts.backends, gone.id)
    callers.append(Caller("deactivated user", gone_headers, "invalid"))

    # The owner's web session: its cookie, with and without the CSRF token.
    async with accounts.db.session() as session:
        web = await start_web_session(settings, session, owner.id)
    cookie = f"{SESSION_COOKIE}={web.token}"
    csrf = session_csrf_token(settings, web.login_id)
    callers.append(Caller("web session without csrf", {"Cookie": cookie}, "cookie"))
    callers.append(
        Caller("web session with csrf", {"Cookie": cookie, CSRF_HEADER: csrf}, "cookie", csrf=True)
    )
    return callers


async def _owner_ctx(accounts: Accounts) -> Any:
    from shared.accounts.principals import OrgContext, Principal

    org = await accounts.make_org("acme")
    owner = await accounts.make_user("owner@acme.test", org_slug="acme", role=Role.OWNER)
    principal = Principal(kind="user", id=owner.id, label=owner.email, user_id=owner.id)
    return OrgContext(org.id, org.slug, Role.OWNER, principal, org.name)


# Routes that end what the callers stand on (a session, a thing other routes name) go last.
# Deletions deepest first, so a consumer goes before its stream.
def _route_order(item: tuple[str, Any, Any]) -> tuple[int, int, str]:
    method, route, _ = item
    last = method == "DELETE" or route.path.endswith("logout")
    return (1, -route.path.count("/"), route.path) if last else (0, 0, route.path)


async def _request(client: Any, method: str, path: str, caller: Caller) -> tuple[int, str | None]:
    """Status and error code; a streamed success (export, SSE tail) is left unread."""
    kwargs: dict[str, Any] = {"headers": caller.headers}
    if method in {"POST", "PUT", "PATCH"}:
        kwargs["json"] = {}
    async with client.stream(method, path, **kwargs) as response:
        code = None
        if response.status_code >= 300 and "json" in response.headers.get("content-type", ""):
            await response.aread()
            body = response.json()
            code = body.get("code") if isinstance(body, dict) else None
        return response.status_code, code


@pytest.fixture(scope="module")
async def matrix(module_settings: Any, nats_single_deployment: Any) -> AsyncIterator[Matrix]:
    import httpx

    from shared.backends import Backends

    nats = NatsTarget(nats_single_deployment)
    nats.restart_stopped_nodes()
    # From an empty server, whatever a module before left (its clean-up is skipped when its
    # set-up fails): build_world creates ORDERS and SCRATCH afresh.
    await delete_every_stream(nats)
    backends = Backends.open(module_settings)
    accounts = Accounts(backends)
    # /metrics is public at the access level and guarded by its own token, closed unless
    # JETDECK_METRICS_PUBLIC: open it here, so the matrix sees the route's declared access.
    app = create_app(module_settings.model_copy(update={"metrics": MetricsSettings(public=True)}))
    result = Matrix()
    with serve(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False) as client:
            world = await build_world(client, accounts, nats)
            callers = await _callers(accounts, world)
            work = [
                (method, route, handler)
                for route in app.routes
                for handler in getattr(route, "route_handlers", [])
                for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"})
            ]
            for method, route, handler in sorted(work, key=_route_order):
                level = declared_access(handler)
                assert level is not None, f"{method} {route.path} declares no access"
                path = _concrete(route.path, world.path_values(method, route.path))
                result.routes.add((method, route.path))
                for caller in callers:
                    status, code = await _request(client, method, path, caller)
                    expected = _expected(level, handler.opt, method, caller)
                    result.observations.append(
                        Observation(method, route.path, caller.name, status, code, expected)
                    )
    await backends.close()
    await delete_every_stream(nats)
    yield result


def _verdict(o: Observation) -> bool:
    if o.expected is None:
        return o.status not in (401, 403) and o.status < 500 and o.code != "org_not_found"
    if o.expected == 404:
        return o.status == 404 and o.code == "org_not_found"
    return o.status == o.expected


def test_every_route_answers_every_kind_of_caller_as_its_access_level_says(
    matrix: Matrix,
) -> None:
    failures = [
        f"{o.method} {o.path} as {o.caller}: got {o.status} {o.code}, "
        f"expected {o.expected or 'past the guard'}"
        for o in matrix.observations
        if not _verdict(o)
    ]
    assert failures == []
    callers = {o.caller for o in matrix.observations}
    assert len(callers) == 15
    assert len(matrix.observations) == len(matrix.routes) * len(callers)


def test_the_matrix_covers_every_route_of_the_api_and_the_web_app(
    matrix: Matrix, module_settings: Any
) -> None:
    app = create_app(module_settings)
    every = {
        (method, route.path)
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        for method in handler.http_methods - {"OPTIONS", "HEAD"}
    }
    assert every == matrix.routes
    assert any(path.startswith("/api/v1/orgs/{org:str}/clusters") for _, path in every)
    assert any(not path.startswith("/api/") for _, path in every)


def test_every_status_the_matrix_sees_is_documented_in_the_openapi_document(
    matrix: Matrix, module_settings: Any
) -> None:
    document = create_app(module_settings).openapi_schema.to_schema()
    undocumented = set()
    for o in matrix.observations:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", o.path)
        operation = document["paths"].get(path, {}).get(o.method.lower())
        if operation is None:  # not in the API's document (the web app, the docs themselves)
            continue
        if str(o.status) not in operation.get("responses", {}):
            undocumented.add(f"{o.method} {o.path}: {o.status}")
    assert sorted(undocumented) == []
