"""What the alerts API accepts and returns (API.md > Alerts). Values the service must check
against the database or a list (metric, operator, channel ids, globs) are plain strings
here and checked in `rules.py`, so a mistake is a 400 that names the field."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
Glob = Annotated[str, msgspec.Meta(max_length=300)]
Severity = Literal["info", "warning", "critical"]
AlertState = Literal["pending", "firing", "resolved"]


class Scope(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    cluster: Glob | None = None
    stream: Glob | None = None
    consumer: Glob | None = None


class Condition(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A threshold (`metric`, `op`, `threshold`, `for_seconds`) or
    `{"kind": "nats_monitor_metadata"}` (then `for_seconds` may still delay firing)."""

    kind: str = "threshold"
    metric: str | None = None
    op: str | None = None
    threshold: float | None = None
    for_seconds: int = 0


class RuleIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    condition: Condition
    severity: Severity = "warning"
    description: Text | None = None
    runbook_url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    enabled: bool = True
    scope: Scope = msgspec.field(default_factory=Scope)
    channels: list[str] = msgspec.field(default_factory=list)
    repeat_interval_seconds: int = 3600
    notify_resolved: bool = True
    labels: dict[str, Annotated[str, msgspec.Meta(max_length=200)]] = msgspec.field(
        default_factory=dict
    )


class RulePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None
    condition: Condition | None = None
    severity: Severity | None = None
    description: Text | None = None
    runbook_url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    enabled: bool | None = None
    scope: Scope | None = None
    channels: list[str] | None = None
    repeat_interval_seconds: int | None = None
    notify_resolved: bool | None = None
    labels: dict[str, Annotated[str, msgspec.Meta(max_length=200)]] | None = None


class RuleOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    description: str | None
    runbook_url: str | None
    enabled: bool
    severity: str
    scope: dict[str, Any]
    condition: dict[str, Any]
    channels: list[str]
    repeat_interval_seconds: int
    notify_resolved: bool
    labels: dict[str, str]
    created_at: datetime
    updated_at: datetime


class PreviewTarget(msgspec.Struct):
    target: dict[str, Any]
    value: float | None
    would_fire: bool
    threshold: float | None = None
    detail: str | None = None


class Preview(msgspec.Struct):
    targets: list[PreviewTarget]
    cluster_errors: dict[str, str] = msgspec.field(default_factory=dict)


class RuleRef(msgspec.Struct):
    id: uuid.UUID
    name: str
    severity: str


class Acknowledgement(msgspec.Struct):
    by: str
    at: datetime
    comment: str | None


class AlertOut(msgspec.Struct):
    id: uuid.UUID
    rule: RuleRef
    target: dict[str, Any]
    state: str
    value: float | None
    threshold: float | None
    started_at: datetime
    firing_at: datetime | None
    resolved_at: datetime | None
    acknowledged: Acknowledgement | None
    silenced: bool
    detail: str | None = None
    resolved_reason: str | None = None


class AlertEventOut(msgspec.Struct):
    at: datetime
    kind: str
    detail: dict[str, Any]


class AlertDeliveryOut(msgspec.Struct):
    id: uuid.UUID
    channel_id: uuid.UUID
    event: str
    state: str
    attempts: int
    last_error: str | None
    response_code: int | None
    created_at: datetime
    sent_at: datetime | None


class AlertDetail(msgspec.Struct):
    id: uuid.UUID
    rule: RuleRef
    target: dict[str, Any]
    state: str
    value: float | None
    threshold: float | None
    started_at: datetime
    firing_at: datetime | None
    resolved_at: datetime | None
    acknowledged: Acknowledgement | None
    silenced: bool
    events: list[AlertEventOut]
    deliveries: list[AlertDeliveryOut]
    detail: str | None = None
    resolved_reason: str | None = None
    # The metric the rule watches, for a chart around the alert (None for metadata rules).
    metric: str | None = None


class AcknowledgeIn(msgspec.Struct, forbid_unknown_fields=True):
    comment: Text | None = None


class SilenceMatchers(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    rule_id: uuid.UUID | None = None
    cluster: Glob | None = None
    stream: Glob | None = None
    consumer: Glob | None = None
    severity: Severity | None = None


class SilenceIn(msgspec.Struct, forbid_unknown_fields=True):
    matchers: SilenceMatchers
    ends_at: datetime
    comment: Text
    starts_at: datetime | None = None


class SilenceOut(msgspec.Struct):
    id: uuid.UUID
    matchers: dict[str, Any]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    created_at: datetime
    active: bool
