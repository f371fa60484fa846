"""Notification channels, the delivery outbox and each delivery's attempts (migration 0007)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow


class NotificationChannel(Base):
    __tablename__ = "notification_channels"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    # The non-secret part of the config (email `to`, telegram `chat_id`, webhook header names).
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Fernet token of the secret part (URLs with tokens, bot token, routing key, signing secret).
    secrets: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_error_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set when JetDeck turned the channel off itself (the endpoint answered 410 Gone).
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # Circuit breaker: transient failures in a row, and until when calls are held back.
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    circuit_open_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Delivery(Base):
    """One notification to one channel (the outbox row). Its id is the Standard Webhooks
    `webhook-id` on every attempt, so a receiver deduplicates a resend after a crash."""

    __tablename__ = "deliveries"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True
    )
    # The first alert of the group (None for a test message); `payload` lists them all.
    alert_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL"), default=None, index=True
    )
    alert_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    event: Mapped[str] = mapped_column(String(16))  # firing | resolved | repeat | test
    # pending → sending → sent | failed (pending again between retries).
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    response_code: Mapped[int | None] = mapped_column(default=None)
    # What to say, frozen when the alert changed state (shared/notify/message.py).
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_deliveries_state_next_attempt_at", "state", "next_attempt_at"),)


class DeliveryAttempt(Base):
    """Written (and committed) before the call goes out, completed after it answers."""

    __tablename__ = "delivery_attempts"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # sent | retry | failed | interrupted (found still open by the sweeper)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    response_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
