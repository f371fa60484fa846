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
from shared.alerts.models import Alert, AlertEvent, AlertRule, EvaluatedCycle, Silence
from shared.audit.models import AuditEvent
from shared.clusters.models import Cluster as Cluster
from shared.db.base import Base, Installation
from shared.notify.models import Delivery, DeliveryAttempt, NotificationChannel

metadata = Base.metadata

__all__ = [
    "Alert",
    "AlertEvent",
    "AlertRule",
    "ApiKey",
    "AuditEvent",
    "Delivery",
    "DeliveryAttempt",
    "EvaluatedCycle",
    "Installation",
    "Invitation",
    "Login",
    "Membership",
    "NotificationChannel",
    "Organization",
    "RefreshToken",
    "Silence",
    "User",
    "WebSession",
    "metadata",
]
