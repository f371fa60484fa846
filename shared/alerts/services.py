"""Alerts and silences as the API and the web pages read and change them: list and filter
alerts, one alert with its timeline, acknowledge, silences (also made from an alert)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.accounts.principals import OrgContext
from shared.accounts.schemas import Page
from shared.alerts.evaluation import silenced_by
from shared.alerts.models import Alert, AlertEvent, AlertRule, Silence
from shared.alerts.rules import check_glob
from shared.alerts.schemas import (
    Acknowledgement,
    AlertDeliveryOut,
    AlertDetail,
    AlertEventOut,
    AlertOut,
    RuleRef,
    SilenceIn,
    SilenceMatchers,
    SilenceOut,
)
from shared.audit import record_change
from shared.backends import Backends
from shared.clusters.models import Cluster
from shared.db import Database
from shared.db.base import utcnow
from shared.errors import Conflict, Invalid, NotFound, Unavailable
from shared.notify.models import Delivery

MAX_SILENCE = timedelta(days=366)


def _db(backends: Backends) -> Database:
    if backends.database is None:
        raise Unavailable("The database is not configured.", code="database_unavailable")
    return backends.database


def _id(value: str | uuid.UUID, code: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"Nothing with id {value!r}", code=code) from None


async def _active_silences(session: AsyncSession, org_id: uuid.UUID) -> list[Silence]:
    now = utcnow()
    return list(
        (
            await session.scalars(
                select(Silence).where(
                    Silence.org_id == org_id, Silence.starts_at <= now, Silence.ends_at > now
                )
            )
        ).all()
    )


def _ack(alert: Alert) -> Acknowledgement | None:
    if alert.acknowledged_at is None:
        return None
    return Acknowledgement(
        by=alert.acknowledged_by or "", at=alert.acknowledged_at, comment=alert.ack_comment
    )


def _out(alert: Alert, rule: AlertRule, silences: list[Silence]) -> AlertOut:
    return AlertOut(
        id=alert.id,
        rule=RuleRef(rule.id, rule.name, rule.severity),
        target=dict(alert.target),
        state=alert.state,
        value=alert.value,
        threshold=alert.threshold,
        started_at=alert.started_at,
        firing_at=alert.firing_at,
        resolved_at=alert.resolved_at,
        acknowledged=_ack(alert),
        silenced=alert.state != "resolved" and silenced_by(silences, rule, alert.target, utcnow()),
        detail=alert.detail,
        resolved_reason=alert.resolved_reason,
    )


async def list_alerts(
    backends: Backends,
    ctx: OrgContext,
    *,
    state: str | None = None,
    severity: str | None = None,
    cluster: str | None = None,
    rule: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[AlertOut]:
    """Newest first. `state` pending|firing|resolved, `severity`, `cluster` (its name),
    `rule` (its id)."""
    filters: list[Any] = [Alert.org_id == ctx.org_id]
    if state:
        if state not in ("pending", "firing", "resolved"):
            raise Invalid("state: expected pending, firing or resolved", extra={"field": "state"})
        filters.append(Alert.state == state)
    if severity:
        filters.append(AlertRule.severity == severity)
    if cluster:
        filters.append(Cluster.name == cluster)
    if rule:
        filters.append(Alert.rule_id == _id(rule, "alert_rule_not_found"))
    base = (
        select(Alert, AlertRule)
        .join(AlertRule, AlertRule.id == Alert.rule_id)
        .join(Cluster, Cluster.id == Alert.cluster_id)
        .where(*filters)
    )
    async with _db(backends).session() as session:
        total = await session.scalar(select(func.count()).select_from(base.subquery()))
        rows = (
            await session.execute(
                base.order_by(Alert.started_at.desc(), Alert.id).offset(offset).limit(limit)
            )
        ).all()
        silences = await _active_silences(session, ctx.org_id)
    return Page([_out(a, r, silences) for a, r in rows], total or 0)


async def _load(
    session: AsyncSession, org_id: uuid.UUID, alert_id: str | uuid.UUID
) -> tuple[Alert, AlertRule]:
    row = (
        await session.execute(
            select(Alert, AlertRule)
            .join(AlertRule, AlertRule.id == Alert.rule_id)
            .where(Alert.org_id == org_id, Alert.id == _id(alert_id, "alert_not_found"))
        )
    ).first()
    if row is None:
        raise NotFound(f"No alert {alert_id} in this organization", code="alert_not_found")
    return row[0], row[1]


async def get_alert(backends: Backends, ctx: OrgContext, alert_id: str | uuid.UUID) -> AlertDetail:
    """One alert with its timeline: state changes, acknowledgements, silenced notices, and
    the deliveries that carried it (with their errors)."""
    async with _db(backends).session() as session:
        alert, rule = await _load(session, ctx.org_id, alert_id)
        events = (
            await session.scalars(
                select(AlertEvent)
                .where(AlertEvent.alert_id == alert.id)
                .order_by(AlertEvent.at, AlertEvent.id)
            )
        ).all()
        deliveries = (
            await session.scalars(
                select(Delivery)
                .where(Delivery.alert_ids.contains([str(alert.id)]))
                .order_by(Delivery.created_at)
                .limit(200)
            )
        ).all()
        silences = await _active_silences(session, ctx.org_id)
    out = _out(alert, rule, silences)
    return AlertDetail(
        **{f: getattr(out, f) for f in out.__struct_fields__},
        events=[AlertEventOut(e.at, e.kind, dict(e.detail)) for e in events],
        deliveries=[
            AlertDeliveryOut(
                id=d.id,
                channel_id=d.channel_id,
                event=d.event,
                state="pending" if d.state == "sending" else d.state,
                attempts=d.attempts,
                last_error=d.last_error,
                response_code=d.response_code,
                created_at=d.created_at,
                sent_at=d.sent_at,
            )
            for d in deliveries
        ],
        metric=rule.condition.get("metric"),
    )


async def acknowledge_alert(
    backends: Backends, ctx: OrgContext, alert_id: str | uuid.UUID, comment: str | None = None
) -> AlertOut:
    """Stops repeats of a pending or firing alert (the resolved notice still goes out)."""
    async with _db(backends).session() as session:
        alert, rule = await _load(session, ctx.org_id, alert_id)
        if alert.state == "resolved":
            raise Conflict("The alert is already resolved", code="alert_resolved")
        before = {"acknowledged": None}
        now = utcnow()
        alert.acknowledged_by = ctx.principal.label
        alert.acknowledged_at = now
        alert.ack_comment = comment
        session.add(
            AlertEvent(
                alert_id=alert.id,
                at=now,
                kind="acknowledged",
                detail={"by": ctx.principal.label, "comment": comment},
            )
        )
        silences = await _active_silences(session, ctx.org_id)
        out = _out(alert, rule, silences)
    record_change(
        f"alert:{out.id}", before, {"acknowledged": {"by": ctx.principal.label, "comment": comment}}
    )
    return out


# ---- silences ------------------------------------------------------------------------------


def _silence_out(s: Silence) -> SilenceOut:
    now = utcnow()
    return SilenceOut(
        id=s.id,
        matchers=dict(s.matchers),
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        comment=s.comment,
        created_by=s.created_by,
        created_at=s.created_at,
        active=s.starts_at <= now < s.ends_at,
    )


async def create_silence(backends: Backends, ctx: OrgContext, data: SilenceIn) -> SilenceOut:
    """A silenced alert changes state but notifies no one, from `starts_at` (default now)
    until `ends_at`."""
    matchers = msgspec.to_builtins(data.matchers)
    if not matchers:
        raise Invalid("matchers: at least one matcher is needed", extra={"field": "matchers"})
    for part in ("cluster", "stream", "consumer"):
        check_glob(f"matchers.{part}", matchers.get(part))
    now = utcnow()
    starts = _aware(data.starts_at) if data.starts_at else now
    ends = _aware(data.ends_at)
    if ends <= starts or ends <= now:
        raise Invalid(
            "ends_at: must be after starts_at and in the future", extra={"field": "ends_at"}
        )
    if ends - starts > MAX_SILENCE:
        raise Invalid("ends_at: a silence lasts at most a year", extra={"field": "ends_at"})
    async with _db(backends).session() as session:
        if matchers.get("rule_id"):
            rule = await session.scalar(
                select(AlertRule.id).where(
                    AlertRule.org_id == ctx.org_id, AlertRule.id == uuid.UUID(matchers["rule_id"])
                )
            )
            if rule is None:
                raise Invalid("matchers.rule_id: unknown rule", extra={"field": "matchers.rule_id"})
        silence = Silence(
            org_id=ctx.org_id,
            matchers=matchers,
            starts_at=starts,
            ends_at=ends,
            comment=data.comment,
            created_by=ctx.principal.label,
        )
        session.add(silence)
        await session.flush()
        out = _silence_out(silence)
    record_change(f"silence:{out.id}", None, msgspec.to_builtins(out))
    return out


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


async def silence_alert(
    backends: Backends, ctx: OrgContext, alert_id: str | uuid.UUID, ends_at: datetime, comment: str
) -> SilenceOut:
    """A silence matching exactly this alert's rule and target (the "silence" button)."""
    async with _db(backends).session() as session:
        alert, rule = await _load(session, ctx.org_id, alert_id)
        target = dict(alert.target)
    matchers = SilenceMatchers(
        rule_id=rule.id,
        cluster=target.get("cluster"),
        stream=target.get("stream"),
        consumer=target.get("consumer"),
    )
    return await create_silence(
        backends, ctx, SilenceIn(matchers=matchers, ends_at=ends_at, comment=comment)
    )


async def list_silences(
    backends: Backends,
    ctx: OrgContext,
    *,
    include_ended: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> Page[SilenceOut]:
    filters: list[Any] = [Silence.org_id == ctx.org_id]
    if not include_ended:
        filters.append(Silence.ends_at > utcnow())
    async with _db(backends).session() as session:
        total = await session.scalar(select(func.count()).select_from(Silence).where(*filters))
        rows = await session.scalars(
            select(Silence)
            .where(*filters)
            .order_by(Silence.ends_at.desc())
            .offset(offset)
            .limit(limit)
        )
        return Page([_silence_out(s) for s in rows], total or 0)


async def end_silence(
    backends: Backends, ctx: OrgContext, silence_id: str | uuid.UUID
) -> SilenceOut:
    async with _db(backends).session() as session:
        silence = await session.scalar(
            select(Silence).where(
                Silence.org_id == ctx.org_id, Silence.id == _id(silence_id, "silence_not_found")
            )
        )
        if silence is None:
            raise NotFound(
                f"No silence {silence_id} in this organization", code="silence_not_found"
            )
        before = _silence_out(silence)
        now = utcnow()
        if silence.ends_at > now:
            silence.ends_at = max(now, silence.starts_at)
        out = _silence_out(silence)
    record_change(
        f"silence:{out.id}",
        {"ends_at": before.ends_at.isoformat()},
        {"ends_at": out.ends_at.isoformat()},
    )
    return out
