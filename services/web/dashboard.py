"""The organization's home (`/orgs/{org}`)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from services.access import Access, access
from services.web.console import Crumb, render
from shared.accounts.principals import OrgContext
from shared.accounts.roles import Role
from shared.audit.trail import list_events
from shared.backends import Backends
from shared.metrics.dashboard import org_dashboard

RECENT_EVENTS = 8


@get("/orgs/{org:str}", opt=access(Access.VIEWER), include_in_schema=False)
async def dashboard_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    """Per cluster: reachable, servers up, JetStream storage and memory against limits, age
    of the last collection; the streams nearest their limits; the consumers furthest behind;
    recent audit events (for admins, who may read the audit log). `dashboard_live` refreshes
    itself in place."""
    board = await org_dashboard(backends, org_context)
    events = None
    if org_context.role.at_least(Role.ADMIN):
        assert backends.database is not None
        events = await list_events(backends.database, org_context.org_id, limit=RECENT_EVENTS)
    return await render(
        request,
        backends,
        "dashboard.html",
        org=org_context,
        section="dashboard",
        crumbs=[Crumb("Dashboard")],
        fragments=("dashboard_live",),
        board=board,
        events=events.items if events else None,
    )
