"""/api/v1/orgs/{org}/audit-events: read-only; no route changes or deletes an entry."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from services.access import Access, access
from services.api.auth import OrgContext
from services.api.params import Limit, Offset, TimeText, parse_time
from shared.accounts.schemas import AuditEventOut, Page
from shared.accounts.sessions import database
from shared.audit.trail import list_events
from shared.backends import Backends


class AuditEventController(Controller):
    path = "/orgs/{org:str}/audit-events"
    tags = ["audit"]

    @get("/", opt=access(Access.ADMIN))
    async def list_audit_events(
        self,
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
        actor: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        since: TimeText = None,
        until: TimeText = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[AuditEventOut]:
        """Newest first. `actor`: an id, email or key name; `action`: exact, or `member.*`."""
        return await list_events(
            database(backends),
            org_context.org_id,
            actor=actor,
            action=action,
            since=parse_time("since", since, zone_required=True),
            until=parse_time("until", until, zone_required=True),
            offset=offset,
            limit=limit,
        )
