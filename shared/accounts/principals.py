"""Who is asking (a user or an API key) and, inside an organization, with which role."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.accounts.roles import Role


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "api_key"]
    id: uuid.UUID
    label: str  # the user's email, or the key's name
    user_id: uuid.UUID | None  # the user; for a key, the user who created it
    # For an API key: the one organization it belongs to, and its role there.
    org_id: uuid.UUID | None = None
    key_role: Role | None = None
    # For a user: the login (refresh-token family) the access token belongs to.
    login_id: uuid.UUID | None = None


@dataclass(frozen=True)
class OrgContext:
    org_id: uuid.UUID
    slug: str
    role: Role
    principal: Principal
    name: str = ""
    created_at: datetime | None = None


def operator_context(org_id: uuid.UUID, slug: str, name: str, label: str) -> OrgContext:
    """For a command run on the host (`jetdeck clusters import`, `jetdeck up`): an admin of the
    organization. No user or key stands behind it; the audit trail names it through
    `shared.audit.trail.audited`."""
    principal = Principal(kind="user", id=org_id, label=label, user_id=None)
    return OrgContext(org_id, slug, Role.ADMIN, principal, name)
