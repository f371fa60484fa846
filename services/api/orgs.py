"""/api/v1/orgs: create an organization (the caller owns it), read it, rename it."""

from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from services.access import Access, access
from services.api.auth import OrgContext, Principal
from shared.accounts import orgs
from shared.accounts.authenticate import user_id_of
from shared.accounts.schemas import OrgIn, OrgOut, OrgPatch
from shared.accounts.sessions import database
from shared.backends import Backends


class OrgController(Controller):
    path = "/orgs"
    tags = ["organizations"]

    @post("/", opt=access(Access.AUTHENTICATED, audit="org.create", users_only=True))
    async def create_org(
        self,
        data: JSONBody[OrgIn],
        principal: NamedDependency[Principal],
        backends: NamedDependency[Backends],
    ) -> OrgOut:
        orgs.refuse_unless_anyone_may_create(backends.settings)
        return await orgs.create_org(
            database(backends), data.slug, data.name, user_id_of(principal)
        )

    @get("/{org:str}", opt=access(Access.VIEWER))
    async def get_org(
        self, org_context: NamedDependency[OrgContext], backends: NamedDependency[Backends]
    ) -> OrgOut:
        return await orgs.get_org(database(backends), org_context)

    @patch("/{org:str}", opt=access(Access.OWNER, audit="org.update"))
    async def update_org(
        self,
        data: JSONBody[OrgPatch],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> OrgOut:
        return await orgs.rename_org(backends, org_context, data.name)
