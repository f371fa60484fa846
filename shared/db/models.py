"""Imports every domain's models so `metadata` is complete (Alembic, tests)."""

from shared.accounts.models import (
    ApiKey,
    Invitation,
    Login,
    Membership,
    Organization,
    RefreshToken,
    User,
    WebSession,
)
from shared.audit.models import AuditEvent
from shared.clusters.models import Cluster as Cluster
from shared.db.base import Base, Installation

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Installation",
    "Invitation",
    "Login",
    "Membership",
    "Organization",
    "RefreshToken",
    "User",
    "WebSession",
    "metadata",
]
