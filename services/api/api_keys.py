"""/api/v1/orgs/{org}/api-keys: the key is returned by creation only."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from services.access import Access, access
from services.api.auth import OrgContext
from services.api.params import Limit, Offset
from shared.accounts import api_keys
from shared.accounts.schemas import ApiKeyCreatedOut, ApiKeyIn, ApiKeyOut, Page
from shared.backends import Backends


class ApiKeyController(Controller):
    path = "/orgs/{org:str}/api-keys"
    tags = ["api keys"]

    @get("/", opt=access(Access.ADMIN))
    async def list_api_keys(
        self,
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[ApiKeyOut]:
        return await api_keys.list_api_keys(backends, org_context, offset, limit)

    @post("/", opt=access(Access.ADMIN, audit="api_key.create", users_only=True))
    async def create_api_key(
        self,
        data: JSONBody[ApiKeyIn],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> ApiKeyCreatedOut:
        return await api_keys.create_api_key(
            backends, org_context, data.name, data.role, data.expires_at
        )

    @delete("/{key_id:uuid}", opt=access(Access.ADMIN, audit="api_key.revoke"))
    async def revoke_api_key(
        self,
        key_id: FromPath[uuid.UUID],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> None:
        await api_keys.revoke_api_key(backends, org_context, key_id)
