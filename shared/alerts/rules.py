"""Alert rules: create, read, change, remove (audited), and preview what a rule matches now."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.accounts.principals import OrgContext
from shared.accounts.schemas import Page
from shared.alerts.evaluation import breached, observations
from shared.alerts.metrics import METRICS, OPERATORS, Cycle, matches
from shared.alerts.models import OPEN_STATES, Alert, AlertEvent, AlertRule, EvaluatedCycle
from shared.alerts.schemas import Preview, PreviewTarget, RuleIn, RuleOut, RulePatch
from shared.audit import record_change
from shared.backends import Backends
from shared.clusters.models import Cluster
from shared.db import Database
from shared.db.base import utcnow
from shared.errors import Invalid, NotFound, Unavailable
from shared.metrics.collector import collect_cluster, cycle_time
from shared.metrics.targets import target_of
from shared.notify.models import NotificationChannel

MAX_DURATION = 366 * 86400
_GLOB_CHARS = re.compile(r"^[A-Za-z0-9_\-.*?\[\]!$:@^/]+$")
PREVIEW_TIMEOUT = 15.0


def _db(backends: Backends) -> Database:
    if backends.database is None:
        raise Unavailable("The database is not configured.", code="database_unavailable")
    return backends.database


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", code="invalid_rule", extra={"field": field})


def check_glob(field: str, pattern: str | None) -> None:
    """A name or a shell glob (`*`, `?`, `[...]`) of the characters NATS names use."""
    if pattern is None:
        return
    if not pattern or not _GLOB_CHARS.match(pattern):
        raise _invalid(field, f"{pattern!r} is not a name or a glob of one")
    if pattern.count("[") != pattern.count("]") or re.search(r"\[[^\]]*\[", pattern):
        raise _invalid(field, f"{pattern!r} has unbalanced brackets")
    if "[]" in pattern:
        raise _invalid(field, f"{pattern!r} has an empty character class")


def check_condition(condition: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a condition; Invalid names the field at fault."""
    kind = condition.get("kind") or "threshold"
    for_seconds = condition.get("for_seconds") or 0
    if not isinstance(for_seconds, int) or for_seconds < 0 or for_seconds > MAX_DURATION:
        raise _invalid("condition.for_seconds", "expected whole seconds, 0 or more")
    if kind == "nats_monitor_metadata":
        return {"kind": kind, "for_seconds": for_seconds}
    if kind != "threshold":
        raise _invalid(
            "condition.kind", f"unknown kind {kind!r} (threshold or nats_monitor_metadata)"
        )
    metric = condition.get("metric")
    if metric not in METRICS:
        raise _invalid("condition.metric", f"unknown metric {metric!r}")
    op = condition.get("op")
    if op not in OPERATORS:
        raise _invalid("condition.op", f"unknown operator {op!r} (one of {' '.join(OPERATORS)})")
    threshold = condition.get("threshold")
    if not isinstance(threshold, int | float) or threshold != threshold:
        raise _invalid("condition.threshold", "expected a number")
    return {"metric": metric, "op": op, "threshold": float(threshold), "for_seconds": for_seconds}


async def _check_channels(
    session: AsyncSession, org_id: uuid.UUID, channels: list[str]
) -> list[str]:
    ids = []
    for ref in channels:
        try:
            ids.append(uuid.UUID(str(ref)))
        except ValueError:
            raise _invalid("channels", f"unknown channel {ref!r}") from None
    found = set(
        (
            await session.scalars(
                select(NotificationChannel.id).where(
                    NotificationChannel.org_id == org_id, NotificationChannel.id.in_(ids)
                )
            )
        ).all()
    )
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise _invalid("channels", f"unknown channel {missing[0]}")
    return [str(i) for i in dict.fromkeys(ids)]


def _check_rest(repeat: int | None, scope: dict[str, Any] | None) -> None:
    if repeat is not None and not (0 < repeat <= MAX_DURATION):
        raise _invalid("repeat_interval_seconds", "expected whole seconds, more than 0")
    for part in ("cluster", "stream", "consumer"):
        check_glob(f"scope.{part}", (scope or {}).get(part))


def to_out(rule: AlertRule) -> RuleOut:
    return RuleOut(
        id=rule.id,
        name=rule.name,
        description=rule.description,
        runbook_url=rule.runbook_url,
        enabled=rule.enabled,
        severity=rule.severity,
        scope=dict(rule.scope or {}),
        condition=dict(rule.condition),
        channels=list(rule.channels or []),
        repeat_interval_seconds=rule.repeat_interval_seconds,
        notify_resolved=rule.notify_resolved,
        labels=dict(rule.labels or {}),
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def _public(out: RuleOut) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(out)
    data.pop("created_at", None)
    data.pop("updated_at", None)
    return data


def _check_runbook(url: str | None) -> None:
    if url and not url.startswith(("https://", "http://")):
        raise _invalid("runbook_url", "expected an http(s):// link")


async def create_rule(backends: Backends, ctx: OrgContext, data: RuleIn) -> RuleOut:
    condition = check_condition(msgspec.to_builtins(data.condition))
    scope = msgspec.to_builtins(data.scope)
    _check_rest(data.repeat_interval_seconds, scope)
    _check_runbook(data.runbook_url)
    async with _db(backends).session() as session:
        channels = await _check_channels(session, ctx.org_id, data.channels)
        rule = AlertRule(
            org_id=ctx.org_id,
            name=data.name,
            description=data.description,
            runbook_url=data.runbook_url,
            enabled=data.enabled,
            severity=data.severity,
            scope=scope,
            condition=condition,
            channels=channels,
            repeat_interval_seconds=data.repeat_interval_seconds,
            notify_resolved=data.notify_resolved,
            labels=dict(data.labels),
        )
        session.add(rule)
        await session.flush()
        out = to_out(rule)
    record_change(f"alert_rule:{out.id}", None, _public(out))
    return out


def _rule_id(rule_id: str | uuid.UUID) -> uuid.UUID:
    try:
        return rule_id if isinstance(rule_id, uuid.UUID) else uuid.UUID(str(rule_id))
    except ValueError:
        raise NotFound(f"No alert rule {rule_id!r}", code="alert_rule_not_found") from None


async def _load(session: AsyncSession, org_id: uuid.UUID, rule_id: str | uuid.UUID) -> AlertRule:
    rule = await session.scalar(
        select(AlertRule).where(AlertRule.org_id == org_id, AlertRule.id == _rule_id(rule_id))
    )
    if rule is None:
        raise NotFound(f"No alert rule {rule_id} in this organization", code="alert_rule_not_found")
    return rule


async def list_rules(
    backends: Backends, ctx: OrgContext, *, offset: int = 0, limit: int = 100
) -> Page[RuleOut]:
    async with _db(backends).session() as session:
        rows = (
            await session.scalars(
                select(AlertRule).where(AlertRule.org_id == ctx.org_id).order_by(AlertRule.name)
            )
        ).all()
    return Page([to_out(r) for r in rows[offset : offset + limit]], len(rows))


async def get_rule(backends: Backends, ctx: OrgContext, rule_id: str | uuid.UUID) -> RuleOut:
    async with _db(backends).session() as session:
        return to_out(await _load(session, ctx.org_id, rule_id))


async def update_rule(
    backends: Backends, ctx: OrgContext, rule_id: str | uuid.UUID, patch: RulePatch | RuleIn
) -> RuleOut:
    """PATCH (only what is given) or PUT (a whole `RuleIn`). A change to what the rule
    watches (condition, scope) or turning it off closes its open alerts (reason
    `rule_changed`), since their state was decided under the old rule."""
    async with _db(backends).session() as session:
        rule = await _load(session, ctx.org_id, rule_id)
        before = _public(to_out(rule))
        if patch.condition is not None:
            rule.condition = check_condition(msgspec.to_builtins(patch.condition))
        if patch.scope is not None:
            scope = msgspec.to_builtins(patch.scope)
            _check_rest(None, scope)
            rule.scope = scope
        if patch.repeat_interval_seconds is not None:
            _check_rest(patch.repeat_interval_seconds, None)
            rule.repeat_interval_seconds = patch.repeat_interval_seconds
        if patch.channels is not None:
            rule.channels = await _check_channels(session, ctx.org_id, patch.channels)
        if patch.runbook_url is not None or isinstance(patch, RuleIn):
            _check_runbook(patch.runbook_url)
            rule.runbook_url = patch.runbook_url or None
        if patch.description is not None or isinstance(patch, RuleIn):
            rule.description = patch.description or None
        for name in ("name", "severity", "enabled", "notify_resolved"):
            value = getattr(patch, name)
            if value is not None:
                setattr(rule, name, value)
        if patch.labels is not None:
            rule.labels = dict(patch.labels)
        await session.flush()
        await session.refresh(rule)
        out = to_out(rule)
        after = _public(out)
        if (
            not rule.enabled
            or after["condition"] != before["condition"]
            or after["scope"] != before["scope"]
        ):
            await _close_open_alerts(session, rule.id)
    record_change(f"alert_rule:{out.id}", before, after)
    return out


async def _close_open_alerts(session: AsyncSession, rule_id: uuid.UUID) -> None:
    now = utcnow()
    for alert in (
        await session.scalars(
            select(Alert).where(Alert.rule_id == rule_id, Alert.state.in_(OPEN_STATES))
        )
    ).all():
        alert.state, alert.resolved_at, alert.resolved_reason = "resolved", now, "rule_changed"
        session.add(
            AlertEvent(
                alert_id=alert.id, at=now, kind="resolved", detail={"reason": "rule_changed"}
            )
        )


async def delete_rule(backends: Backends, ctx: OrgContext, rule_id: str | uuid.UUID) -> None:
    async with _db(backends).session() as session:
        rule = await _load(session, ctx.org_id, rule_id)
        before = _public(to_out(rule))
        await session.delete(rule)
    record_change(f"alert_rule:{rule_id}", before, None)


async def preview_rule(backends: Backends, ctx: OrgContext, rule_id: str | uuid.UUID) -> Preview:
    """What the rule would match now: each cluster in scope is read live (nothing stored,
    nothing sent) and the rule evaluated on it. `would_fire` is the condition alone (the
    for-duration is not waited for)."""
    async with _db(backends).session() as session:
        rule = await _load(session, ctx.org_id, rule_id)
        clusters = [
            c
            for c in (
                await session.scalars(
                    select(Cluster).where(Cluster.org_id == ctx.org_id).order_by(Cluster.name)
                )
            ).all()
            if matches((rule.scope or {}).get("cluster"), c.name)
        ]
        previous = {
            str(e.cluster_id): dict(e.previous)
            for e in (
                await session.scalars(
                    select(EvaluatedCycle).where(
                        EvaluatedCycle.cluster_id.in_([c.id for c in clusters])
                    )
                )
            ).all()
        }
    return await preview(backends, rule, clusters, previous)


async def preview(
    backends: Backends, rule: Any, clusters: list[Cluster], previous: dict[str, dict[str, Any]]
) -> Preview:
    settings = backends.settings
    targets: list[PreviewTarget] = []
    errors: dict[str, str] = {}

    async def one(cluster: Cluster) -> None:
        target = target_of(settings, cluster)
        ts = utcnow()
        try:
            result = await asyncio.wait_for(
                collect_cluster(
                    None,
                    backends.nats,
                    target,
                    cycle_time(1, ts.timestamp()),
                    settings.metrics,
                    write=False,
                ),
                PREVIEW_TIMEOUT,
            )
        except TimeoutError:
            errors[cluster.name] = "timed out"
            return
        if not result.reachable:
            errors[cluster.name] = result.error or "unreachable"
        cycle = Cycle(
            str(cluster.id),
            cluster.name,
            result.ts,
            result.collection if result.reachable else None,
            previous.get(str(cluster.id), {}),
        )
        for o in observations(rule, cycle):
            verdict = breached(rule, o)
            targets.append(
                PreviewTarget(
                    target=o.target,
                    value=o.value,
                    would_fire=bool(verdict),
                    threshold=o.threshold
                    if o.threshold is not None
                    else rule.condition.get("threshold"),
                    detail=o.detail,
                )
            )

    await asyncio.gather(*(one(c) for c in clusters))
    targets.sort(key=lambda t: (not t.would_fire, str(t.target)))
    return Preview(targets=targets, cluster_errors=errors)
