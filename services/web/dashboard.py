"""The organization's home (`/orgs/{org}`)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from markupsafe import Markup
from sqlalchemy import select

from services.access import Access, access
from services.web.charts import sparkline_svg
from services.web.console import Crumb, render
from shared.accounts.principals import OrgContext
from shared.accounts.roles import Role
from shared.audit.trail import list_events
from shared.backends import Backends
from shared.clusters.models import Cluster
from shared.metrics.charts import ConsumerKey, lag_sparklines
from shared.metrics.dashboard import Dashboard, org_dashboard

RECENT_EVENTS = 8


@get("/orgs/{org:str}", opt=access(Access.VIEWER))
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
        sparklines=await _sparklines(backends, org_context, board),
        events=events.items if events else None,
    )


async def _sparklines(
    backends: Backends, ctx: OrgContext, board: Dashboard
) -> dict[tuple[str, str, str], Markup]:
    """The last hour of total lag (pending + awaiting ack) of each consumer the dashboard
    lists, as small server-drawn SVG lines keyed by (cluster, stream, consumer): one query."""
    listed = {(c.cluster, c.stream, c.consumer) for c in board.largest_backlog}
    listed |= {(c.cluster, c.stream, c.consumer) for c in board.largest_time_lag}
    if not listed or backends.clickhouse is None or not board.metrics_available:
        return {}
    assert backends.database is not None
    async with backends.database.session() as session:
        ids = {
            name: str(cid)
            for cid, name in await session.execute(
                select(Cluster.id, Cluster.name).where(Cluster.org_id == ctx.org_id)
            )
        }
    keys = {item: ConsumerKey(ids[item[0]], item[1], item[2]) for item in listed if item[0] in ids}
    lines = await lag_sparklines(
        backends.clickhouse,
        str(ctx.org_id),
        list(keys.values()),
        raw_interval=backends.settings.workers.collect_interval,
    )
    out: dict[tuple[str, str, str], Markup] = {}
    for item, key in keys.items():
        values = lines["series"].get(f"{key.cluster_id}/{key.stream}/{key.consumer}") or []
        known = [v for v in values if v is not None]
        label = (
            f"Backlog of {key.consumer} over the last hour: from {known[0]:,} to {known[-1]:,}"
            if known
            else f"No backlog samples of {key.consumer} in the last hour"
        )
        out[item] = sparkline_svg(values, label)
    return out
