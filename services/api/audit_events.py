"""/api/v1/orgs/{org}/audit-events: read-only; no route changes or deletes an entry."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from services.access import Access, access
from services.api.auth import OrgContext
from services.api.params import Limit, Offset
from shared.accounts.schemas import AuditEventOut, Page
from shared.accounts.sessions import database
from shared.audit.trail import list_events
from shared.backends import Backends
from shared.errors import Invalid


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
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[AuditEventOut]:
        """Newest first. `actor`: an id, email or key name; `action`: exact, or `member.*`."""
        for name, value in (("since", since), ("until", until)):
            if value is not None and value.tzinfo is None:
                raise Invalid(f"{name} needs a time zone (RFC 3339, e.g. 2030-01-01T00:00:00Z).")
        return await list_events(
            database(backends),
            org_context.org_id,
            actor=actor,
            action=action,
            since=since,
            until=until,
            offset=offset,
            limit=limit,
        )
