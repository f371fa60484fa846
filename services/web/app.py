"""The web console's routes (conventions: services/web/console.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.di import NamedDependency
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Response, Template
from litestar.template.config import TemplateConfig

from services.access import Access, access
from services.api.auth import Principal
from services.api.security import COOKIE_AUTH
from services.web import charts, clusters, formatting, settings_pages
from services.web.alerts import ALERT_HANDLERS
from services.web.assets import static_router
from services.web.channels import CHANNEL_HANDLERS
from services.web.console import render
from services.web.dashboard import dashboard_page
from services.web.errors import exception_handlers
from services.web.messages import MESSAGE_HANDLERS
from services.web.pages import NO_STORE, page, session_user
from services.web.signin import login, login_form, logout
from services.web.streams import HANDLERS as STREAM_HANDLERS
from shared.accounts import orgs
from shared.accounts.authenticate import user_id_of
from shared.accounts.sessions import database
from shared.backends import Backends
from shared.workers_state import last_worker_heartbeat

TEMPLATES = Path(__file__).parent / "templates"


async def _status_page(request: Request[Any, Any, Any], backends: Backends) -> Template:
    checks = await backends.readiness()
    heartbeat = await last_worker_heartbeat(backends.redis) if backends.redis else None
    return page(
        "status.html",
        backends,
        await session_user(request, backends),
        checks=checks,
        worker_heartbeat=heartbeat,
        settings=backends.settings,
    )


@get("/", opt=access(Access.PUBLIC))
async def home(
    request: Request[Any, Any, Any], backends: NamedDependency[Backends]
) -> Response[Any]:
    """A signed-in user goes to their first organization's dashboard; anyone else (and a
    user in no organization yet) sees what is running, with a sign-in link."""
    user = await session_user(request, backends)
    if user is not None and user.kind == "user":
        me = await orgs.me(database(backends), user_id_of(user))
        if me.orgs:
            return Redirect(f"/orgs/{me.orgs[0].slug}", status_code=303, headers=NO_STORE)
    return await _status_page(request, backends)


@get("/status", opt=access(Access.PUBLIC))
async def status(request: Request[Any, Any, Any], backends: NamedDependency[Backends]) -> Template:
    """The backing services and the worker's heartbeat, for anyone (like /readyz)."""
    return await _status_page(request, backends)


@get("/account", opt=access(Access.AUTHENTICATED, users_only=True))
async def account(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    backends: NamedDependency[Backends],
) -> Template:
    """Who you are and your organizations: the same service as `GET /api/v1/auth/me`."""
    me = await orgs.me(database(backends), user_id_of(principal))
    return await render(request, backends, "account.html", org=None, section="account", me=me)


WEB_HANDLERS = [
    home,
    status,
    account,
    login_form,
    login,
    logout,
    dashboard_page,
    *ALERT_HANDLERS,
    *CHANNEL_HANDLERS,
    *clusters.HANDLERS,
    *settings_pages.HANDLERS,
    *charts.CHART_HANDLERS,
    *STREAM_HANDLERS,
    *MESSAGE_HANDLERS,
]


def web_router() -> Router:
    # The web app's routes accept the session cookie (with CSRF on mutations) besides a
    # bearer token, and answer a browser's errors with pages; they are not part of the API's
    # OpenAPI schema.
    return Router(
        path="/",
        route_handlers=[*WEB_HANDLERS, static_router()],
        opt={COOKIE_AUTH: True},
        exception_handlers=exception_handlers,
        include_in_schema=False,
    )


def template_config(*, reload: bool = False) -> TemplateConfig[JinjaTemplateEngine]:
    """The console's templates. Without `reload` (outside development) a template is compiled
    once: Jinja otherwise stats each template file, and every one it extends or imports, on
    every render."""

    def prepare(engine: JinjaTemplateEngine) -> None:
        engine.engine.auto_reload = reload
        formatting.install(engine.engine)
        charts.install(engine.engine)

    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=prepare)
