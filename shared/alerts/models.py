"""Rules, alerts, their timeline and silences (PostgreSQL, migration 0007)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow

OPEN_STATES = ("pending", "firing")


class AlertRule(Base):
    __tablename__ = "alert_rules"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    runbook_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    severity: Mapped[str] = mapped_column(String(16))
    # {"cluster": glob?, "stream": glob?, "consumer": glob?}; absent = all.
    scope: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # {"metric", "op", "threshold", "for_seconds"} or {"kind": "nats_monitor_metadata", ...}.
    condition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    channels: Mapped[list[str]] = mapped_column(JSONB, default=list)
    repeat_interval_seconds: Mapped[int] = mapped_column(default=3600)
    notify_resolved: Mapped[bool] = mapped_column(default=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Alert(Base):
    """One rule x one target. Open (pending, firing) at most once per target; a resolved
    alert stays as history and a new breach opens a new one."""

    __tablename__ = "alerts"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True
    )
    cluster_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clusters.id", ondelete="CASCADE"), index=True
    )
    # "stream/consumer", "stream", "server:<name>", "account:<name>" or "" (the cluster).
    target_key: Mapped[str] = mapped_column(String(600))
    # {"cluster", "server"?, "account"?, "stream"?, "consumer"?}
    target: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float, default=None)
    threshold: Mapped[float | None] = mapped_column(Float, default=None)
    # What a nats_monitor_metadata rule found ("io.nats.monitor.unprocessed-critical ...").
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime] = mapped_column()
    firing_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    # Why it resolved: "condition_cleared", "target_vanished", "rule_changed".
    resolved_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    # The first cycle the condition was seen false again (a resolve needs a full cycle).
    clear_since: Mapped[datetime | None] = mapped_column(default=None)
    last_cycle: Mapped[datetime] = mapped_column()
    last_notified_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320), default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    ack_comment: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index(
            "uq_alerts_open_target",
            "rule_id",
            "cluster_id",
            "target_key",
            unique=True,
            postgresql_where=text("state IN ('pending', 'firing')"),
        ),
        Index("ix_alerts_org_id_state", "org_id", "state"),
    )


class AlertEvent(Base):
    """The timeline of one alert: state changes, acknowledgements, notifications queued or
    suppressed by a silence."""

    __tablename__ = "alert_events"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    alert_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class Silence(Base):
    __tablename__ = "silences"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # {"rule_id"?, "cluster"?, "stream"?, "consumer"?, "severity"?}; names may be globs.
    matchers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvaluatedCycle(Base):
    """The newest cycle evaluated per cluster: a retried or late evaluation of an older or the
    same cycle changes nothing (idempotent per rule, target and cycle)."""

    __tablename__ = "alert_evaluated_cycles"
    cluster_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True
    )
    cycle: Mapped[datetime] = mapped_column()
    # Per stream, the previous cycle's (ts, last_seq, ingest rate): rates without ClickHouse.
    previous: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


__all__ = ["OPEN_STATES", "Alert", "AlertEvent", "AlertRule", "EvaluatedCycle", "Silence"]
