"""`evaluate_rules(cluster, cycle)`: after each collection cycle of a cluster, every enabled
rule scoping that cluster is evaluated on that cycle's samples, and the alerts' state changes
and the deliveries they cause commit in one transaction (the outbox).

States, per alert (one rule x one target):
- inactive (no open alert) → pending when the condition holds; → firing once it has held
  for `for_seconds` (at once when 0). Firing notifies.
- A firing alert resolves when the condition was false on two cycles in a row, i.e. false
  for a full cycle at least (the first false cycle only sets `clear_since`); a pending one
  is dropped (resolved, no notice: nobody was told it fired).
- Repeats: while firing, not acknowledged and not silenced, every `repeat_interval_seconds`.

No data:
- A target present without a value this cycle (a time lag not read, a rate on the first
  cycle): the alert keeps its state; nothing is decided on missing numbers.
- A cluster that could not be collected: none of its alerts fire or resolve (inhibition);
  only `cluster.unreachable` rules are evaluated, so only the cluster's own alert notifies.
- A target that vanished from a reachable cluster (a deleted stream or consumer): a pending
  alert is dropped; a firing one resolves with reason `target_vanished`, and its resolved
  notice says the target no longer exists (sent even when `notify_resolved` is off): it
  never resolves silently. Rules on `stream.missing` / `consumer.missing` alert on a named
  target's disappearance itself.

Idempotent per (rule, target, cycle): the newest evaluated cycle is kept per cluster (a
retried or late evaluation of that cycle or an older one changes nothing), and a
transaction-scoped advisory lock serialises evaluations of one cluster.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.accounts.models import Organization
from shared.alerts.metrics import (
    COMPARE,
    METRICS,
    Cycle,
    Observation,
    compare,
    matches,
    next_previous,
    observe,
)
from shared.alerts.models import OPEN_STATES, Alert, AlertEvent, AlertRule, EvaluatedCycle, Silence
from shared.alerts.monitor import observe_metadata
from shared.backends import Backends
from shared.clusters.models import Cluster
from shared.config import Settings
from shared.db.base import utcnow
from shared.errors import Unavailable
from shared.notify.message import alert_entry, console_base
from shared.notify.models import Delivery, NotificationChannel

log = logging.getLogger("jetdeck.alerts")

# Target kinds an unreachable cluster inhibits (everything but the cluster's own alert).
INHIBITED = frozenset({"server", "account", "stream", "consumer", "metadata"})


def rule_kind(condition: dict[str, Any]) -> str:
    if condition.get("kind") == "nats_monitor_metadata":
        return "metadata"
    return METRICS[condition["metric"]]


def observations(rule: AlertRule | Any, cycle: Cycle) -> list[Observation]:
    """Every target the rule scopes in the cycle, as full observations (the preview)."""
    condition = rule.condition
    if condition.get("kind") == "nats_monitor_metadata":
        return list(observe_metadata(cycle, rule.scope or {}))
    return [cycle.observation(r) for r in observe(cycle, condition["metric"], rule.scope or {})]


def _readings(
    rule: AlertRule, cycle: Cycle, open_keys: dict[str, Any]
) -> Iterator[tuple[str, Observation | None, Any]]:
    """(key, observation, reading) of the targets worth deciding on: those that breach and
    those with an open alert. A threshold rule's observation is None (built by the caller
    for these few); the hundreds of thousands of quiet readings cost one comparison each."""
    condition = rule.condition
    if condition.get("kind") == "nats_monitor_metadata":
        for o in observe_metadata(cycle, rule.scope or {}):
            yield o.key, o, o.value
        return
    test = COMPARE[condition["op"]]
    limit = float(condition["threshold"])
    yield from [
        (key, None, (parts, value))
        for key, parts, value in observe(cycle, condition["metric"], rule.scope or {})
        if (value is not None and test(value, limit)) or key in open_keys
    ]


def breached(rule: AlertRule | Any, o: Observation) -> bool | None:
    """The verdict on one observation; None when there is no data to decide on."""
    if o.firing is not None:
        return o.firing
    if o.value is None:
        return None
    c = rule.condition
    return compare(o.value, c["op"], float(c["threshold"]))


def silenced_by(
    silences: list[Silence], rule: AlertRule, target: dict[str, Any], at: datetime
) -> bool:
    for s in silences:
        if not (s.starts_at <= at < s.ends_at):
            continue
        m = s.matchers
        if m.get("rule_id") and m["rule_id"] != str(rule.id):
            continue
        if m.get("severity") and m["severity"] != rule.severity:
            continue
        if all(
            matches(m.get(part), target.get(part)) for part in ("cluster", "stream", "consumer")
        ):
            return True
    return False


@dataclass
class _Notices:
    """Alerts to notify about, per rule and event, gathered during one evaluation."""

    by_rule: dict[tuple[uuid.UUID, str], list[_Open]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(self, rule: AlertRule, event: str, alert: _Open) -> None:
        self.by_rule[(rule.id, event)].append(alert)


class _Open:
    """An alert as evaluation reads and changes it: a plain object, not an ORM one (10,000
    open alerts load in milliseconds), whose changes are written in bulk at the end."""

    id: uuid.UUID
    org_id: uuid.UUID
    rule_id: uuid.UUID
    cluster_id: uuid.UUID
    target_key: str
    target: dict[str, Any]
    state: str
    value: float | None
    threshold: float | None
    detail: str | None
    started_at: datetime
    firing_at: datetime | None
    resolved_at: datetime | None
    resolved_reason: str | None
    clear_since: datetime | None
    last_cycle: datetime
    last_notified_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    ack_comment: str | None
    created_at: datetime

    def __init__(self, values: dict[str, Any], *, new: bool = False):
        self.__dict__.update(values)
        self.__dict__["_changed"] = set()
        self.__dict__["_new"] = new

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get(name, _UNSET) != value:
            self.__dict__[name] = value
            self.__dict__["_changed"].add(name)

    def row(self, names: Iterable[str]) -> dict[str, Any]:
        return {name: self.__dict__.get(name) for name in names}


_UNSET = object()
_COLUMNS = tuple(c.name for c in Alert.__table__.columns)


async def _write(session: AsyncSession, alerts: Iterable[_Open]) -> None:
    """New alerts in one multi-row INSERT; changed ones in one UPDATE per set of columns."""
    new, changed = [], defaultdict(list)
    for a in alerts:
        if a.__dict__["_new"]:
            new.append(a.row(_COLUMNS))
        elif a.__dict__["_changed"]:
            names = tuple(sorted(a.__dict__["_changed"]))
            changed[names].append(a.row(("id", *names)))
    if new:
        await session.execute(insert(Alert), new)
    for rows in changed.values():
        await session.execute(update(Alert), rows)


async def evaluate_rules(backends: Backends, cycle: Cycle) -> list[str]:
    """Evaluate one cluster's cycle; returns the ids of the deliveries it queued (to hand to
    the delivery actor once committed). Safe to call twice for one cycle."""
    if backends.database is None:
        raise Unavailable("Evaluating alert rules needs the database (JETDECK_DATABASE_URL).")
    cluster_key = uuid.UUID(cycle.cluster_id)
    async with backends.database.session() as session:
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"alerts:{cluster_key}"}
        )
        row = (
            await session.execute(
                select(Cluster.org_id, Cluster.name, Organization.slug)
                .join(Organization, Organization.id == Cluster.org_id)
                .where(Cluster.id == cluster_key)
            )
        ).first()
        if row is None:
            return []  # removed since it was collected
        org_id, cycle.cluster_name, org_slug = row
        done = await session.get(EvaluatedCycle, cluster_key, with_for_update=True)
        if done is not None and done.cycle >= cycle.ts:
            return []
        cycle.previous = dict(done.previous) if done is not None else {}
        rules = [
            r
            for r in (
                await session.scalars(
                    select(AlertRule).where(AlertRule.org_id == org_id, AlertRule.enabled)
                )
            ).all()
            if matches((r.scope or {}).get("cluster"), cycle.cluster_name)
        ]
        queued = await _evaluate(session, backends.settings, org_id, org_slug, cycle, rules)
        previous = next_previous(cycle, {str(r.condition.get("metric")) for r in rules})
        if done is None:
            session.add(EvaluatedCycle(cluster_id=cluster_key, cycle=cycle.ts, previous=previous))
        else:
            done.cycle = cycle.ts
            done.previous = previous
    return queued


async def _evaluate(
    session: AsyncSession,
    settings: Settings,
    org_id: uuid.UUID,
    org_slug: str,
    cycle: Cycle,
    rules: list[AlertRule],
) -> list[str]:
    ts = cycle.ts
    cluster_key = uuid.UUID(cycle.cluster_id)
    # Without `target` (JSON to decode for each of maybe 10,000 rows): a matched alert gets
    # its observation's, and the few that vanished are read when resolved.
    rows = await session.execute(
        select(*[c for c in Alert.__table__.columns if c.name != "target"]).where(
            Alert.cluster_id == cluster_key, Alert.state.in_(OPEN_STATES)
        )
    )
    open_alerts: dict[tuple[uuid.UUID, str], _Open] = {
        (row["rule_id"], row["target_key"]): _Open(dict(row)) for row in rows.mappings()
    }
    # Each rule's open alerts by target key, grouped once (not one scan of every open alert
    # per rule: 50 rules x 10,000 firing alerts was a third of a cycle's evaluation).
    by_rule: dict[uuid.UUID, dict[str, _Open]] = defaultdict(dict)
    for (rule_id, key), open_alert in open_alerts.items():
        by_rule[rule_id][key] = open_alert
    now = utcnow()  # silences are about the wall clock, not the cycle's time
    silences = list(
        (
            await session.scalars(
                select(Silence).where(
                    Silence.org_id == org_id, Silence.ends_at > now, Silence.starts_at <= now
                )
            )
        ).all()
    )
    notices = _Notices()
    events: list[dict[str, Any]] = []
    present: set[str] | None = None  # every target's key, built only if an alert went unseen

    def event(alert: _Open, kind: str, **detail: Any) -> None:
        # The timeline is in wall-clock order (acknowledgements are too); the cycle that
        # decided it is in the detail. A microsecond apiece keeps one evaluation's order.
        at = now + timedelta(microseconds=len(events))
        detail["cycle"] = ts.isoformat()
        events.append(
            {"id": uuid.uuid4(), "alert_id": alert.id, "at": at, "kind": kind, "detail": detail}
        )

    def notify(rule: AlertRule, kind: str, alert: _Open) -> None:
        if silenced_by(silences, rule, alert.target, now):
            event(alert, "silenced", notification=kind)
            return
        alert.last_notified_at = ts
        notices.add(rule, kind, alert)

    for rule in rules:
        kind = rule_kind(rule.condition)
        if not cycle.reachable and kind in INHIBITED:
            continue  # inhibited: frozen while the cluster cannot be collected
        for_seconds = int(rule.condition.get("for_seconds") or 0)
        limit = rule.condition.get("threshold")
        mine = by_rule[rule.id]  # new alerts are added to it and to `open_alerts` alike
        seen: set[str] = set()
        for key, given, reading in _readings(rule, cycle, mine):
            alert = mine.get(key)
            if given is None:
                parts, value = reading
                o = Observation(key, {"cluster": cycle.cluster_name, **dict(parts)}, value)
            else:
                o = given
            if alert is not None:
                alert.__dict__.setdefault("target", o.target)  # not a change
                seen.add(key)
                if alert.last_cycle >= ts:
                    continue  # this cycle already counted for this alert
            verdict = breached(rule, o)
            if verdict is None:
                continue  # no data: the alert keeps its state
            if verdict:
                threshold = o.threshold if o.threshold is not None else limit
                if alert is None:
                    alert = _Open(
                        {
                            **dict.fromkeys(_COLUMNS),
                            "id": uuid.uuid4(),
                            "org_id": org_id,
                            "rule_id": rule.id,
                            "cluster_id": cluster_key,
                            "target_key": key,
                            "target": o.target,
                            "state": "pending",
                            "started_at": ts,
                            "last_cycle": ts,
                            "created_at": now,
                        },
                        new=True,
                    )
                    open_alerts[(rule.id, key)] = mine[key] = alert
                    seen.add(key)
                    event(alert, "pending", value=o.value)
                # Only what changed is written: 10,000 firing alerts cost nothing per cycle.
                if (alert.value, alert.threshold, alert.detail) != (o.value, threshold, o.detail):
                    alert.value, alert.threshold, alert.detail = o.value, threshold, o.detail
                if alert.clear_since is not None:
                    alert.clear_since = None
                if alert.state == "pending":
                    if (ts - alert.started_at).total_seconds() >= for_seconds:
                        alert.state, alert.firing_at = "firing", ts
                        event(alert, "firing", value=o.value, threshold=threshold)
                        notify(rule, "firing", alert)
                elif not alert.acknowledged_at and not silenced_by(
                    silences, rule, alert.target, now
                ):
                    if alert.last_notified_at is None:
                        notify(rule, "firing", alert)  # fired while silenced; now heard
                    elif (
                        ts - alert.last_notified_at
                    ).total_seconds() >= rule.repeat_interval_seconds:
                        event(alert, "repeat", value=o.value)
                        notify(rule, "repeat", alert)
                continue
            if alert is None:
                continue
            alert.value = o.value
            if alert.state == "pending":
                _resolve(alert, ts, "condition_cleared")
                event(alert, "dropped", reason="condition_cleared")
            elif alert.clear_since is None:
                alert.clear_since = ts
                event(alert, "clearing", value=o.value)
            else:
                _resolve(alert, ts, "condition_cleared")
                event(alert, "resolved", value=o.value, fired_seconds=_fired(alert))
                if rule.notify_resolved and alert.last_notified_at is not None:
                    notify(rule, "resolved", alert)
        if not cycle.reachable and kind != "cluster":
            continue
        gone = [
            (key, alert)
            for key, alert in mine.items()
            if key not in seen and alert.state in OPEN_STATES and alert.last_cycle < ts
        ]
        if gone:
            await _read_targets(session, [a for _, a in gone])
        for key, alert in gone:
            if present is None:
                present = _present(cycle)
            if key in present and kind != "metadata":
                continue  # present but out of scope now (a narrower scope): left to rule edits
            if key in present:  # metadata removed: its checks no longer apply
                reason = "condition_cleared"
            else:
                reason = "target_vanished"
            if alert.state == "pending":
                _resolve(alert, ts, reason)
                event(alert, "dropped", reason=reason)
                continue
            _resolve(alert, ts, reason)
            event(alert, "resolved", reason=reason, fired_seconds=_fired(alert))
            if alert.last_notified_at is not None and (
                rule.notify_resolved or reason == "target_vanished"
            ):
                notify(rule, "resolved", alert)
    await _write(session, open_alerts.values())  # the alerts first: events refer to them
    if events:  # one multi-row INSERT, not an ORM object each (a storm has thousands)
        await session.execute(insert(AlertEvent), events)
    return await _queue(session, settings, org_id, org_slug, cycle, rules, notices)


async def _read_targets(session: AsyncSession, alerts: list[_Open]) -> None:
    missing = {a.id: a for a in alerts if "target" not in a.__dict__}
    if missing:
        rows = await session.execute(
            select(Alert.id, Alert.target).where(Alert.id.in_(list(missing)))
        )
        for alert_id, target in rows:
            missing[alert_id].__dict__["target"] = target


def _present(cycle: Cycle) -> set[str]:
    c = cycle.collection
    if c is None:
        return set()
    keys = {s.stream for s in c.streams}
    keys.update(f"{s.stream}/{s.consumer}" for s in c.consumers)
    keys.update(f"server:{s.server}" for s in c.servers)
    keys.update(f"account:{a.account}" for a in c.accounts)
    return keys


def _resolve(alert: _Open, ts: datetime, reason: str) -> None:
    alert.state, alert.resolved_at, alert.resolved_reason = "resolved", ts, reason
    alert.clear_since = None


def _fired(alert: _Open) -> float | None:
    if alert.firing_at and alert.resolved_at:
        return (alert.resolved_at - alert.firing_at).total_seconds()
    return None


def rule_summary(rule: AlertRule) -> dict[str, Any]:
    return {
        "id": str(rule.id),
        "name": rule.name,
        "severity": rule.severity,
        "condition": dict(rule.condition),
        "runbook_url": rule.runbook_url,
        "labels": dict(rule.labels or {}),
    }


def payload_for(
    settings: Settings,
    org_slug: str,
    cluster_name: str,
    rule: AlertRule,
    event: str,
    alerts: list[_Open],
    at: datetime,
) -> dict[str, Any]:
    console = console_base(settings)
    limit = settings.notify.group_list_limit
    return {
        "event": event,
        "rule": rule_summary(rule),
        "cluster": cluster_name,
        "org": org_slug,
        "alerts": [
            alert_entry(
                alert_id=str(a.id),
                target=a.target,
                state=a.state,
                value=a.value,
                threshold=a.threshold,
                started_at=a.started_at,
                firing_at=a.firing_at,
                resolved_at=a.resolved_at,
                detail=a.detail,
                resolved_reason=a.resolved_reason,
                console=console,
                org=org_slug,
            )
            for a in alerts[:limit]
        ],
        "count": len(alerts),
        "console_url": f"{console}/orgs/{org_slug}/alerts?rule={rule.id}",
        "timestamp": at.isoformat(),
    }


async def _queue(
    session: AsyncSession,
    settings: Settings,
    org_id: uuid.UUID,
    org_slug: str,
    cycle: Cycle,
    rules: list[AlertRule],
    notices: _Notices,
) -> list[str]:
    """One delivery per rule, event and channel (PagerDuty: per alert, see its module)."""
    if not notices.by_rule:
        return []
    by_id = {r.id: r for r in rules}
    channel_ids = {
        uuid.UUID(c) for (rule_id, _), _ in notices.by_rule.items() for c in by_id[rule_id].channels
    }
    channels = {
        c.id: c
        for c in (
            await session.scalars(
                select(NotificationChannel).where(
                    NotificationChannel.org_id == org_id,
                    NotificationChannel.id.in_(channel_ids),
                    NotificationChannel.enabled,
                )
            )
        ).all()
    }
    deliveries: list[Delivery] = []
    for (rule_id, event_kind), alerts in notices.by_rule.items():
        rule = by_id[rule_id]
        for channel_ref in rule.channels:
            channel = channels.get(uuid.UUID(channel_ref))
            if channel is None:
                continue
            groups = [[a] for a in alerts] if channel.kind == "pagerduty" else [alerts]
            for group in groups:
                deliveries.append(
                    Delivery(
                        id=uuid.uuid4(),
                        org_id=org_id,
                        channel_id=channel.id,
                        alert_id=group[0].id,
                        alert_ids=[str(a.id) for a in group],
                        event=event_kind,
                        payload=payload_for(
                            settings,
                            org_slug,
                            cycle.cluster_name,
                            rule,
                            event_kind,
                            group,
                            cycle.ts,
                        ),
                    )
                )
    session.add_all(deliveries)
    await session.flush()
    return [str(d.id) for d in deliveries]
