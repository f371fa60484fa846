from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.di import NamedDependency
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from services.access import Access, access
from services.api.auth import Principal
from services.api.security import COOKIE_AUTH
from services.web.errors import exception_handlers
from services.web.pages import page, session_user
from services.web.signin import login, login_form, logout
from shared.accounts import orgs
from shared.accounts.authenticate import user_id_of
from shared.accounts.sessions import database
from shared.backends import Backends
from shared.workers_state import last_worker_heartbeat

TEMPLATES = Path(__file__).parent / "templates"


@get("/", opt=access(Access.PUBLIC), include_in_schema=False)
async def home(request: Request[Any, Any, Any], backends: NamedDependency[Backends]) -> Template:
    checks = await backends.readiness()
    heartbeat = await last_worker_heartbeat(backends.redis) if backends.redis else None
    return page(
        "home.html",
        backends,
        await session_user(request, backends),
        checks=checks,
        worker_heartbeat=heartbeat,
        settings=backends.settings,
    )


@get("/account", opt=access(Access.AUTHENTICATED, users_only=True), include_in_schema=False)
async def account(
    principal: NamedDependency[Principal], backends: NamedDependency[Backends]
) -> Template:
    """Who you are and your organizations: the same service as `GET /api/v1/auth/me`."""
    me = await orgs.me(database(backends), user_id_of(principal))
    return page("account.html", backends, principal, me=me)


def web_router() -> Router:
    # The web app's routes accept the session cookie (with CSRF on mutations) besides a
    # bearer token, and answer a browser's errors with pages.
    return Router(
        path="/",
        route_handlers=[home, account, login_form, login, logout],
        opt={COOKIE_AUTH: True},
        exception_handlers=exception_handlers,
    )


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)
