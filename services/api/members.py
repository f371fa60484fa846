"""/api/v1/orgs/{org}/members, /api/v1/orgs/{org}/invitations (pending ones: list, revoke)
and /api/v1/invitations/{token}/accept."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from services.access import Access, access
from services.api.auth import OrgContext
from services.api.params import Limit, Offset
from shared.accounts import members
from shared.accounts.schemas import (
    AcceptedOut,
    AcceptIn,
    InvitationOut,
    InviteIn,
    MemberOut,
    Page,
    PendingInvitationOut,
    RoleIn,
)
from shared.backends import Backends


class MemberController(Controller):
    path = "/orgs/{org:str}/members"
    tags = ["members"]

    @get("/", opt=access(Access.VIEWER))
    async def list_members(
        self,
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[MemberOut]:
        return await members.list_members(backends, org_context, offset, limit)

    @post("/", opt=access(Access.ADMIN, audit="member.invite", users_only=True))
    async def invite_member(
        self,
        data: JSONBody[InviteIn],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> InvitationOut:
        """Returns the invitation token once; hand it to the invitee."""
        return await members.invite(backends, org_context, data.email, data.role)

    @patch("/{user_id:uuid}", opt=access(Access.ADMIN, audit="member.update"))
    async def change_member_role(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[RoleIn],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> MemberOut:
        return await members.change_role(backends, org_context, user_id, data.role)

    @delete("/{user_id:uuid}", opt=access(Access.ADMIN, audit="member.remove"))
    async def remove_member(
        self,
        user_id: FromPath[uuid.UUID],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> None:
        await members.remove_member(backends, org_context, user_id)


class PendingInvitationController(Controller):
    """The invitations not accepted yet (an addition to API.md's contract: new paths only)."""

    path = "/orgs/{org:str}/invitations"
    tags = ["members"]

    @get("/", opt=access(Access.ADMIN))
    async def list_invitations(
        self,
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[PendingInvitationOut]:
        """Pending invitations (not accepted, not expired), newest first; never their token."""
        return await members.list_invitations(backends, org_context, offset, limit)

    @delete("/{invitation_id:uuid}", opt=access(Access.ADMIN, audit="invitation.revoke"))
    async def revoke_invitation(
        self,
        invitation_id: FromPath[uuid.UUID],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> None:
        """Its link stops working at once; 404 when it was accepted, expired or revoked."""
        await members.revoke_invitation(backends, org_context, invitation_id)


class InvitationController(Controller):
    path = "/invitations"
    tags = ["members"]

    @post(
        "/{token:str}/accept", status_code=200, opt=access(Access.PUBLIC, audit="invitation.accept")
    )
    async def accept_invitation(
        self,
        token: FromPath[str],
        data: JSONBody[AcceptIn],
        request: Request[Any, Any, Any],
        backends: NamedDependency[Backends],
    ) -> AcceptedOut:
        """A new user gives a name and password; an existing user gives their password."""
        ip = request.client.host if request.client else None
        return await members.accept_invitation(backends, token, data.password, data.name, ip=ip)
