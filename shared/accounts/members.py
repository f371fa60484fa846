"""Members of an organization and invitations to join it.

Rules: nobody grants a role above their own or changes a member who outranks them; the last
owner can be neither removed nor demoted. An invitation is a single-use token that expires;
only its digest is stored.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.accounts.api_keys import users_only
from shared.accounts.authcache import access_withdrawn
from shared.accounts.keys import random_token
from shared.accounts.models import Invitation, Membership, Organization, User
from shared.accounts.principals import OrgContext
from shared.accounts.roles import Role
from shared.accounts.schemas import (
    AcceptedOut,
    InvitationOut,
    InviterOut,
    MemberOut,
    OrgMembershipOut,
    Page,
    PendingInvitationOut,
)
from shared.accounts.sessions import check_password, database
from shared.accounts.tokens import token_digest
from shared.accounts.users import (
    add_user,
    find_user_by_email,
    hash_password_off_loop,
    normalize_email,
)
from shared.audit import record_actor, record_change, record_org
from shared.backends import Backends
from shared.db.base import utcnow
from shared.errors import Conflict, Forbidden, Invalid, NotFound

INVITATION_PREFIX = "jdi_"


def _member_out(user: User, membership: Membership) -> MemberOut:
    return MemberOut(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=Role(membership.role),
        joined_at=membership.created_at,
    )


async def list_members(
    backends: Backends, ctx: OrgContext, offset: int, limit: int
) -> Page[MemberOut]:
    async with database(backends).session() as session:
        where = Membership.org_id == ctx.org_id
        total = await session.scalar(select(func.count()).select_from(Membership).where(where))
        rows = await session.execute(
            select(User, Membership)
            .join(Membership, Membership.user_id == User.id)
            .where(where)
            .order_by(func.lower(User.email))
            .offset(offset)
            .limit(limit)
        )
        return Page([_member_out(u, m) for u, m in rows], total or 0)


def _may_grant(ctx: OrgContext, role: Role) -> None:
    if role > ctx.role:
        raise Forbidden(
            f"You cannot grant the role {role}, above your own ({ctx.role}).",
            code="role_above_yours",
        )


async def _is_member(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return await session.get(Membership, (org_id, user_id)) is not None


async def invite(backends: Backends, ctx: OrgContext, email: str, role: Role) -> InvitationOut:
    email = normalize_email(email)
    users_only(ctx, "invite members")
    _may_grant(ctx, role)
    token = random_token(INVITATION_PREFIX)
    settings = backends.settings
    async with database(backends).session() as session:
        existing = await find_user_by_email(session, email)
        if existing is not None and await _is_member(session, ctx.org_id, existing.id):
            raise Conflict(f"{email} is already a member.", code="already_member")
        invitation = Invitation(
            org_id=ctx.org_id,
            email=email,
            role=role,
            token_hash=token_digest(settings, token),
            invited_by=ctx.principal.user_id,
            expires_at=utcnow() + timedelta(seconds=settings.app.invitation_ttl),
        )
        session.add(invitation)
        await session.flush()
        record_change(f"invitation:{invitation.id}", None, {"email": email, "role": str(role)})
        return InvitationOut(
            id=invitation.id,
            email=email,
            role=role,
            expires_at=invitation.expires_at,
            token=token,
            accept_path=f"/api/v1/invitations/{token}/accept",
        )


def _pending(ctx: OrgContext) -> Any:
    return (
        (Invitation.org_id == ctx.org_id)
        & Invitation.accepted_at.is_(None)
        & (Invitation.expires_at > utcnow())
    )


async def list_invitations(
    backends: Backends, ctx: OrgContext, offset: int, limit: int
) -> Page[PendingInvitationOut]:
    """The invitations still waiting for their invitee (not accepted, not expired), newest
    first, with who sent each."""
    async with database(backends).session() as session:
        where = _pending(ctx)
        total = await session.scalar(select(func.count()).select_from(Invitation).where(where))
        rows = await session.execute(
            select(Invitation, User)
            .outerjoin(User, User.id == Invitation.invited_by)
            .where(where)
            .order_by(Invitation.created_at.desc(), Invitation.id)
            .offset(offset)
            .limit(limit)
        )
        items = [
            PendingInvitationOut(
                id=invitation.id,
                email=invitation.email,
                role=Role(invitation.role),
                invited_by=InviterOut(inviter.id, inviter.email, inviter.name) if inviter else None,
                created_at=invitation.created_at,
                expires_at=invitation.expires_at,
            )
            for invitation, inviter in rows
        ]
        return Page(items, total or 0)


async def revoke_invitation(backends: Backends, ctx: OrgContext, invitation_id: uuid.UUID) -> None:
    """Withdraw a pending invitation: its link stops working at once (the row is deleted, as
    an accepted or expired one is by housekeeping). Nobody revokes an invitation to a role
    above their own, as nobody could have sent it."""
    async with database(backends).session() as session:
        # Locked as accepting locks it: an invitation is either accepted or revoked, not both.
        invitation = await session.scalar(
            select(Invitation)
            .where(Invitation.id == invitation_id, _pending(ctx))
            .with_for_update()
        )
        if invitation is None:
            raise NotFound(
                "No pending invitation with this id (accepted, expired or revoked).",
                code="invitation_not_found",
            )
        if Role(invitation.role) > ctx.role:
            raise Forbidden(
                "You cannot revoke an invitation to a role above yours.", code="role_above_yours"
            )
        record_change(
            f"invitation:{invitation.id}",
            {"email": invitation.email, "role": invitation.role},
            None,
        )
        await session.delete(invitation)


async def accept_invitation(
    backends: Backends, token: str, password: str, name: str, *, ip: str | None = None
) -> AcceptedOut:
    """A new user chooses a name and password; an existing user proves it is them with theirs."""
    settings = backends.settings
    async with database(backends).session() as session:
        invitation = await session.scalar(
            select(Invitation)
            .where(Invitation.token_hash == token_digest(settings, token))
            .with_for_update()
        )
        if (
            invitation is None
            or invitation.accepted_at is not None
            or invitation.expires_at <= utcnow()
        ):
            raise NotFound(
                "This invitation is not valid, used or expired.", code="invitation_not_found"
            )
        user = await find_user_by_email(session, invitation.email)
        created = user is None
        if user is None:
            if not name.strip():
                raise Invalid("A name is required to create your account.", code="name_required")
            user = await add_user(
                session, invitation.email, await hash_password_off_loop(password), name
            )
        else:
            # Sign-in's password check, under the same attempt limits.
            await check_password(
                backends,
                user,
                user.email,
                password,
                ip=ip,
                reveal_inactive=True,
                wrong="The password is not correct.",
            )
        # Joined meanwhile (another invitation): refused, as `invite` refuses a member.
        if await _is_member(session, invitation.org_id, user.id):
            raise Conflict(f"{user.email} is already a member.", code="already_member")
        invitation.accepted_at = utcnow()
        org = await session.get(Organization, invitation.org_id)
        assert org is not None
        record_org(org.id)
        record_actor("user", user.id, user.email)
        session.add(Membership(org_id=org.id, user_id=user.id, role=invitation.role))
        record_change(
            f"member:{user.id}",
            None,
            {"user_id": str(user.id), "email": user.email, "role": invitation.role},
        )
        return AcceptedOut(
            user_id=user.id,
            email=user.email,
            created_user=created,
            org=OrgMembershipOut(org.slug, org.name, Role(invitation.role)),
        )


async def _target(
    session: AsyncSession, ctx: OrgContext, user_id: uuid.UUID
) -> tuple[User, Membership]:
    row = (
        await session.execute(
            select(User, Membership)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == ctx.org_id, Membership.user_id == user_id)
            .with_for_update(of=Membership)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("No such member in this organization.", code="member_not_found")
    user, membership = row
    if Role(membership.role) > ctx.role:
        raise Forbidden(
            "You cannot change a member whose role is above yours.", code="role_above_yours"
        )
    return user, membership


async def _other_owners(session: AsyncSession, ctx: OrgContext, user_id: uuid.UUID) -> int:
    # Lock every owner row, so two concurrent demotions cannot leave the organization ownerless.
    owners = await session.scalars(
        select(Membership.user_id)
        .where(Membership.org_id == ctx.org_id, Membership.role == Role.OWNER)
        .with_for_update()
    )
    return sum(1 for owner in owners if owner != user_id)


async def change_role(
    backends: Backends, ctx: OrgContext, user_id: uuid.UUID, role: Role
) -> MemberOut:
    _may_grant(ctx, role)
    async with database(backends).session() as session:
        user, membership = await _target(session, ctx, user_id)
        before = Role(membership.role)
        if (
            before == Role.OWNER
            and role != Role.OWNER
            and not await _other_owners(session, ctx, user_id)
        ):
            raise Conflict(
                "The last owner cannot be demoted; make someone else owner first.",
                code="last_owner",
            )
        membership.role = role
        record_change(f"member:{user_id}", {"role": str(before)}, {"role": str(role)})
        out = _member_out(user, membership)
    await access_withdrawn(backends.redis)
    return out


async def remove_member(backends: Backends, ctx: OrgContext, user_id: uuid.UUID) -> None:
    async with database(backends).session() as session:
        user, membership = await _target(session, ctx, user_id)
        if membership.role == Role.OWNER and not await _other_owners(session, ctx, user_id):
            raise Conflict(
                "The last owner cannot be removed; make someone else owner first.",
                code="last_owner",
            )
        record_change(
            f"member:{user_id}",
            {"user_id": str(user_id), "email": user.email, "role": membership.role},
            None,
        )
        await session.delete(membership)
    await access_withdrawn(backends.redis)
