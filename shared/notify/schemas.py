"""What the notification-channels API accepts and returns. Secrets go in, never out: a
response says which are set (`webhook_url_set`); a webhook's signing secret is shown once,
when it is made (on create and on rotate-secret)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

ChannelKind = Literal["slack", "webhook", "email", "pagerduty", "telegram"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class ChannelIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    kind: ChannelKind
    config: dict[str, Any]
    enabled: bool = True


class ChannelPatch(msgspec.Struct, forbid_unknown_fields=True):
    """A config key not given keeps its stored value (secrets included)."""

    name: Name | None = None
    config: dict[str, Any] | None = None
    enabled: bool | None = None


class Circuit(msgspec.Struct):
    state: Literal["closed", "open"]
    consecutive_failures: int
    open_until: datetime | None


class ChannelOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    kind: str
    config: dict[str, Any]
    enabled: bool
    last_error: str | None
    last_error_at: datetime | None
    disabled_reason: str | None
    circuit: Circuit
    created_at: datetime
    updated_at: datetime
    # Only in the answer that made it (create, rotate-secret): store it now.
    signing_secret: str | None = None


class TestResult(msgspec.Struct):
    ok: bool
    status_code: int | None = None
    error: str | None = None
    delivery_id: uuid.UUID | None = None


class DeliveryOut(msgspec.Struct):
    id: uuid.UUID
    alert_id: uuid.UUID | None
    event: str
    state: str
    attempts: int
    last_error: str | None
    response_code: int | None
    created_at: datetime
    sent_at: datetime | None
    channel_id: uuid.UUID | None = None
    next_attempt_at: datetime | None = None
    alert_count: int = 0
