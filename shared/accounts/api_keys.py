"""API keys: `jdk_` + 32 random bytes, shown once; stored as a lookup prefix and an HMAC-SHA256
digest under a subkey of the server key. One organization, one role (at most the creator's)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update

from shared.accounts.authcache import access_withdrawn
from shared.accounts.authenticate import KEY_PREFIX_LENGTH
from shared.accounts.keys import API_KEY_PURPOSE, digest, random_token
from shared.accounts.models import ApiKey
from shared.accounts.principals import OrgContext
from shared.accounts.roles import Role
from shared.accounts.schemas import ApiKeyCreatedOut, ApiKeyOut, Page
from shared.accounts.sessions import database
from shared.accounts.tokens import API_KEY_PREFIX
from shared.audit import record_change
from shared.backends import Backends
from shared.db.base import utcnow
from shared.errors import Forbidden, Invalid, NotFound


def _out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        role=Role(key.role),
        prefix=key.prefix,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        created_by=key.created_by,
    )


def users_only(ctx: OrgContext, what: str) -> None:
    """What a key creates would outlive the key's revocation (and be attributed to the human
    who made the key), so only users may create keys and invitations."""
    if ctx.principal.kind != "user":
        raise Forbidden(f"Only a signed-in user may {what}, not an API key.", code="users_only")


async def create_api_key(
    backends: Backends, ctx: OrgContext, name: str, role: Role, expires_at: datetime | None
) -> ApiKeyCreatedOut:
    users_only(ctx, "create API keys")
    if role > ctx.role:
        raise Forbidden(
            f"A key's role cannot be above yours ({ctx.role}).", code="role_above_yours"
        )
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise Invalid("expires_at needs a time zone (RFC 3339, e.g. 2030-01-01T00:00:00Z).")
        if expires_at <= utcnow():
            raise Invalid("expires_at is in the past.", code="invalid")
    secret = random_token(API_KEY_PREFIX)
    async with database(backends).session() as session:
        key = ApiKey(
            org_id=ctx.org_id,
            name=name.strip(),
            role=role,
            prefix=secret[:KEY_PREFIX_LENGTH],
            key_hash=digest(backends.settings, API_KEY_PURPOSE, secret),
            created_by=ctx.principal.user_id,
            expires_at=expires_at,
            created_at=utcnow(),
        )
        session.add(key)
        await session.flush()
        record_change(
            f"api_key:{key.id}",
            None,
            {
                "name": key.name,
                "role": str(role),
                "prefix": key.prefix,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
        out = _out(key)
    return ApiKeyCreatedOut(**vars(out), key=secret)


async def list_api_keys(
    backends: Backends, ctx: OrgContext, offset: int, limit: int
) -> Page[ApiKeyOut]:
    where = (ApiKey.org_id == ctx.org_id, ApiKey.revoked_at.is_(None))
    async with database(backends).session() as session:
        total = await session.scalar(select(func.count()).select_from(ApiKey).where(*where))
        keys = await session.scalars(
            select(ApiKey)
            .where(*where)
            .order_by(ApiKey.created_at.desc())
            .offset(offset)
            .limit(limit)
        )
        return Page([_out(k) for k in keys], total or 0)


async def revoke_api_key(backends: Backends, ctx: OrgContext, key_id: uuid.UUID) -> None:
    async with database(backends).session() as session:
        key = await session.scalar(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.org_id == ctx.org_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .returning(ApiKey)
        )
        if key is None:
            raise NotFound("No such API key.", code="api_key_not_found")
        record_change(
            f"api_key:{key.id}",
            {"name": key.name, "role": key.role, "revoked": False},
            {"name": key.name, "role": key.role, "revoked": True},
        )
    await access_withdrawn(backends.redis)
