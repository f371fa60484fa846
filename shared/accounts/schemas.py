"""What the accounts API accepts (msgspec structs, validated by Litestar) and returns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import msgspec

from shared.accounts.roles import Role

T = TypeVar("T")

Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$", max_length=63)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class LoginIn(msgspec.Struct):
    email: Email
    password: Secret


class RefreshIn(msgspec.Struct):
    refresh_token: Secret


class OrgIn(msgspec.Struct):
    slug: Slug
    name: Name


class OrgPatch(msgspec.Struct):
    name: Name


class InviteIn(msgspec.Struct):
    email: Email
    role: Role


class PasswordIn(msgspec.Struct):
    current_password: Secret
    new_password: Secret


class RoleIn(msgspec.Struct):
    role: Role


class AcceptIn(msgspec.Struct):
    password: Secret
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class ApiKeyIn(msgspec.Struct):
    name: Name
    role: Role
    expires_at: datetime | None = None


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int


@dataclass
class TokenOut:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105


@dataclass
class OrgMembershipOut:
    slug: str
    name: str
    role: Role


@dataclass
class MeOut:
    id: uuid.UUID
    email: str
    name: str
    orgs: list[OrgMembershipOut]


@dataclass
class OrgOut:
    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime
    role: Role


@dataclass
class MemberOut:
    user_id: uuid.UUID
    email: str
    name: str
    role: Role
    joined_at: datetime


@dataclass
class InvitationOut:
    id: uuid.UUID
    email: str
    role: Role
    expires_at: datetime
    # Shown once, to hand to the invitee: POST /api/v1/invitations/{token}/accept
    token: str
    accept_path: str


@dataclass
class InviterOut:
    user_id: uuid.UUID
    email: str
    name: str


@dataclass
class PendingInvitationOut:
    """An invitation not accepted yet and not expired (its token is never shown again)."""

    id: uuid.UUID
    email: str
    role: Role
    invited_by: InviterOut | None  # None when the inviter's account is gone
    created_at: datetime
    expires_at: datetime


@dataclass
class AcceptedOut:
    user_id: uuid.UUID
    email: str
    org: OrgMembershipOut
    created_user: bool


@dataclass
class ApiKeyOut:
    id: uuid.UUID
    name: str
    role: Role
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    created_by: uuid.UUID | None


@dataclass
class ApiKeyCreatedOut(ApiKeyOut):
    key: str = ""  # the secret, returned by creation only


@dataclass
class ActorOut:
    type: str
    id: uuid.UUID | None
    label: str


@dataclass
class AuditEventOut:
    id: uuid.UUID
    at: datetime
    actor: ActorOut
    action: str
    target: str
    ip: str | None
    user_agent: str | None
    diff: dict[str, Any] = field(default_factory=dict)
