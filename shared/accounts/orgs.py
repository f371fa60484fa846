"""Organizations: creation (the creator is its owner), reading, renaming; the caller's profile."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.accounts.authcache import access_withdrawn
from shared.accounts.models import Membership, Organization, User
from shared.accounts.principals import OrgContext
from shared.accounts.roles import Role
from shared.accounts.schemas import MeOut, OrgMembershipOut, OrgOut
from shared.audit import record_change, record_org
from shared.backends import Backends
from shared.config import Settings
from shared.db import Database
from shared.errors import Conflict, Forbidden, NotFound


def _org_out(org: Organization, role: Role) -> OrgOut:
    return OrgOut(id=org.id, slug=org.slug, name=org.name, created_at=org.created_at, role=role)


async def add_org(session: AsyncSession, slug: str, name: str, owner_id: uuid.UUID) -> Organization:
    if await session.scalar(select(Organization.id).where(Organization.slug == slug)):
        raise Conflict(f"The organization {slug!r} already exists.", code="org_exists")
    org = Organization(slug=slug, name=name.strip())
    session.add(org)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"The organization {slug!r} already exists.", code="org_exists") from exc
    session.add(Membership(org_id=org.id, user_id=owner_id, role=Role.OWNER))
    await session.flush()
    record_org(org.id)
    record_change(f"org:{slug}", None, {"slug": slug, "name": org.name})
    record_change(f"member:{owner_id}", None, {"user_id": str(owner_id), "role": "owner"})
    return org


def refuse_unless_anyone_may_create(settings: Settings) -> None:
    """With JETDECK_ORG_CREATION=operators only `jetdeck orgs create` on the host creates
    organizations: a signed-in user cannot open one and register clusters in it."""
    if settings.app.org_creation != "anyone":
        raise Forbidden(
            "Creating organizations is reserved to operators here: ask one to run "
            "`jetdeck orgs create`.",
            code="org_creation_reserved",
        )


async def create_org(db: Database, slug: str, name: str, owner_id: uuid.UUID) -> OrgOut:
    async with db.session() as session:
        org = await add_org(session, slug, name, owner_id)
        return _org_out(org, Role.OWNER)


async def get_org(db: Database, ctx: OrgContext) -> OrgOut:
    if ctx.created_at is not None:  # resolved with the caller's access: no second query
        return OrgOut(ctx.org_id, ctx.slug, ctx.name, ctx.created_at, ctx.role)
    async with db.session() as session:
        org = await session.get(Organization, ctx.org_id)
        if org is None:
            raise NotFound("No such organization.", code="org_not_found")
        return _org_out(org, ctx.role)


async def rename_org(backends: Backends, ctx: OrgContext, name: str) -> OrgOut:
    assert backends.database is not None
    async with backends.database.session() as session:
        org = await session.get(Organization, ctx.org_id, with_for_update=True)
        if org is None:
            raise NotFound("No such organization.", code="org_not_found")
        before = {"name": org.name}
        org.name = name.strip()
        record_change(f"org:{org.slug}", before, {"name": org.name})
        out = _org_out(org, ctx.role)
    await access_withdrawn(backends.redis)  # cached grants carry the name
    return out


async def me(db: Database, user_id: uuid.UUID) -> MeOut:
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound("No such user.", code="user_not_found")
        rows = await session.execute(
            select(Organization.slug, Organization.name, Membership.role)
            .join(Membership, Membership.org_id == Organization.id)
            .where(Membership.user_id == user_id)
            .order_by(Organization.slug)
        )
        orgs = [OrgMembershipOut(slug, name, Role(role)) for slug, name, role in rows]
        return MeOut(id=user.id, email=user.email, name=user.name, orgs=orgs)
