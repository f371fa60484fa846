"""Who is asking: a bearer token (access JWT or `jdk_` API key) or a web session cookie →
Principal; a Principal and an organization slug → OrgContext. Every failure is a domain
error. `resolve` is what the access middleware calls: it remembers grants briefly per
process, under the Redis epoch described in `authcache`, so a deactivated user, a revoked
login or a revoked key is still refused on the very next request."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Update, and_, or_, select, update

from shared.accounts import web_sessions
from shared.accounts.authcache import Grant, Unreadable, current_epoch, grants
from shared.accounts.keys import API_KEY_PURPOSE, digest, same
from shared.accounts.models import ApiKey, Login, Membership, Organization, User
from shared.accounts.principals import OrgContext, Principal
from shared.accounts.roles import Role
from shared.accounts.sessions import database
from shared.accounts.tokens import API_KEY_PREFIX, read_access_token
from shared.backends import Backends
from shared.db.base import utcnow
from shared.errors import NotAuthenticated, NotFound

KEY_PREFIX_LENGTH = 12  # "jdk_" and 8 random characters: shown in lists, used for lookup
LAST_USED_RESOLUTION = timedelta(minutes=1)

ORG_NOT_FOUND = "No such organization."


async def resolve(
    backends: Backends, token: str, org_slug: str | None, *, web_session: bool = False
) -> tuple[Principal, OrgContext | None]:
    """The principal behind `token` (a bearer token, or with `web_session` a session
    cookie's) and, given a slug, its role in that organization."""
    kind = "cookie" if web_session else "bearer"
    key = hashlib.blake2b(f"{kind}\0{org_slug or ''}\0{token}".encode(), digest_size=20).digest()
    epoch = await current_epoch(backends.redis)
    grant = grants.get(key, epoch)
    if grant is not None:
        # A grant lives 30 s at most, so a key in use is looked up (and its last_used_at
        # refreshed) at least once a minute all the same.
        return grant.principal, grant.org
    valid_until: float | None
    if web_session:
        principal, valid_until = await web_sessions.authenticate(backends, token)
    else:
        principal, valid_until = await _authenticate(backends, token)
    ctx = await org_context(backends, principal, org_slug) if org_slug is not None else None
    if not isinstance(epoch, Unreadable):
        grants.put(
            key,
            Grant(epoch, time.monotonic(), valid_until, principal, ctx),
        )
    return principal, ctx


async def _authenticate(backends: Backends, token: str) -> tuple[Principal, float | None]:
    """The principal, and until when (wall-clock seconds) the credential itself is valid."""
    if token.startswith(API_KEY_PREFIX):
        return await _api_key(backends, token)
    return await _access_token(backends, token)


async def _access_token(backends: Backends, token: str) -> tuple[Principal, float | None]:
    claims = read_access_token(backends.settings, token)
    async with database(backends).sessions() as session:
        row = (
            await session.execute(
                select(User.email)
                .join(Login, Login.user_id == User.id)
                .where(
                    Login.id == claims.login_id,
                    User.id == claims.user_id,
                    Login.revoked_at.is_(None),
                    User.is_active.is_(True),
                )
            )
        ).one_or_none()
    if row is None:
        raise NotAuthenticated("This login has ended; sign in again.", code="login_revoked")
    principal = Principal(
        kind="user",
        id=claims.user_id,
        label=row.email,
        user_id=claims.user_id,
        login_id=claims.login_id,
    )
    return principal, float(claims.expires)


async def _api_key(backends: Backends, token: str) -> tuple[Principal, float | None]:
    """A key works while it is unrevoked and unexpired and its creator is an active member;
    its role is never more than its creator's role today."""
    now = utcnow()
    presented = digest(backends.settings, API_KEY_PURPOSE, token)
    async with database(backends).session() as session:
        rows = (
            await session.execute(
                select(ApiKey, Membership.role)
                .join(User, User.id == ApiKey.created_by)
                .join(
                    Membership,
                    and_(
                        Membership.org_id == ApiKey.org_id, Membership.user_id == ApiKey.created_by
                    ),
                )
                .where(
                    ApiKey.prefix == token[:KEY_PREFIX_LENGTH],
                    ApiKey.revoked_at.is_(None),
                    or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
                    User.is_active.is_(True),
                )
            )
        ).all()
        match = next(((key, role) for key, role in rows if same(key.key_hash, presented)), None)
        if match is None:
            raise NotAuthenticated("The API key is not valid.", code="invalid_api_key")
        key, creator_role = match
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            await session.execute(_touch(key.id, now))
    principal = Principal(
        kind="api_key",
        id=key.id,
        label=key.name,
        user_id=key.created_by,
        org_id=key.org_id,
        key_role=min(Role(key.role), Role(creator_role)),
    )
    return principal, key.expires_at.timestamp() if key.expires_at else None


def _touch(key_id: uuid.UUID, now: datetime) -> Update:
    """Set last_used_at, unless it was set less than a minute ago (by any process)."""
    return (
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
    )


async def org_context(backends: Backends, principal: Principal, slug: str) -> OrgContext:
    """The principal's role in the organization; 404 when it is not theirs, so a stranger
    cannot tell an existing organization from a missing one."""
    async with database(backends).sessions() as session:
        if principal.kind == "api_key":
            org = (
                await session.execute(
                    select(
                        Organization.id,
                        Organization.slug,
                        Organization.name,
                        Organization.created_at,
                    ).where(Organization.slug == slug, Organization.id == principal.org_id)
                )
            ).one_or_none()
            role = principal.key_role
        else:
            row = (
                await session.execute(
                    select(
                        Organization.id,
                        Organization.slug,
                        Organization.name,
                        Organization.created_at,
                        Membership.role,
                    )
                    .join(Membership, Membership.org_id == Organization.id)
                    .where(Organization.slug == slug, Membership.user_id == principal.user_id)
                )
            ).one_or_none()
            org, role = (row, Role(row.role)) if row is not None else (None, None)  # type: ignore[assignment]
    if org is None or role is None:
        raise NotFound(ORG_NOT_FOUND, code="org_not_found")
    return OrgContext(
        org_id=org.id,
        slug=org.slug,
        role=role,
        principal=principal,
        name=org.name,
        created_at=org.created_at,
    )


def user_id_of(principal: Principal) -> uuid.UUID:
    assert principal.user_id is not None
    return principal.user_id
