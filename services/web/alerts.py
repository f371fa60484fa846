"""Alert pages: the alerts (firing, pending, resolved) with acknowledge and silence, one
alert's timeline, the rules with their editor and "preview: what would match now", and the
silences. Viewers read; editors change rules, silences and acknowledgements (conventions:
services/web/console.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import select

from services.access import Access, access
from services.web.console import (
    Crumb,
    form_errors,
    org_url,
    page_number,
    read_form,
    render,
    see_other,
    submit_form,
    url_with,
)
from shared.accounts.principals import OrgContext
from shared.accounts.roles import Role
from shared.alerts import rules, services
from shared.alerts.metrics import METRICS, OPERATORS, matches
from shared.alerts.models import AlertRule, EvaluatedCycle
from shared.alerts.schemas import Condition, RuleIn, Scope, SilenceIn, SilenceMatchers
from shared.backends import Backends
from shared.clusters.models import Cluster
from shared.errors import Conflict, Invalid
from shared.notify import channels as notify_channels
from shared.notify.models import NotificationChannel

PAGE_SIZE = 50
STATES = ("firing", "pending", "resolved", "all")
SEVERITIES = ("info", "warning", "critical")
# Silence lengths offered by the form (seconds); "ends_at" overrides.
DURATIONS = (("1h", 3600), ("4h", 4 * 3600), ("1 day", 86400), ("1 week", 7 * 86400))


# ---- alerts --------------------------------------------------------------------------------


@get("/orgs/{org:str}/alerts", opt=access(Access.VIEWER))
async def alerts_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    """Alerts newest first, by state tab (`?state=firing|pending|resolved|all`) and filters
    (`severity`, `cluster`, `rule`): tabs and filters swap `alerts_view`; the list inside it,
    `alerts_live`, refreshes itself in place (leaving a filter being chosen alone)."""
    q = request.query_params
    state = q.get("state") or "firing"
    if state not in STATES:
        state = "firing"
    severity = q.get("severity") if q.get("severity") in SEVERITIES else None
    page_no = page_number(request)
    rule_list = await rules.list_rules(backends, org_context, limit=500)
    rule_id = q.get("rule") if q.get("rule") in {str(r.id) for r in rule_list.items} else None
    listing = await services.list_alerts(
        backends,
        org_context,
        state=None if state == "all" else state,
        severity=severity,
        cluster=q.get("cluster") or None,
        rule=rule_id,
        offset=(page_no - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return await render(
        request,
        backends,
        "alerts.html",
        org=org_context,
        section="alerts",
        crumbs=[Crumb("Alerts")],
        fragments=("alerts_view", "alerts_live"),
        alerts=listing.items,
        total=listing.total,
        page_no=page_no,
        pages=max(1, math.ceil(listing.total / PAGE_SIZE)),
        state=state,
        states=STATES,
        severities=SEVERITIES,
        severity=severity,
        cluster_filter=q.get("cluster") or "",
        rule_filter=rule_id or "",
        rule_list=rule_list.items,
    )


async def _alert_view(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    alert_id: FromPath[str],
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    detail = await services.get_alert(backends, org_context, alert_id)
    channel_names: dict[str, str] = {}
    if org_context.role.at_least(Role.ADMIN):
        channel_names = {
            str(c.id): c.name
            for c in (await notify_channels.list_channels(backends, org_context)).items
        }
    # The chart window "around the alert": from a little before it started to a little after
    # it resolved (or now).
    start = detail.started_at - timedelta(minutes=30)
    end = min((detail.resolved_at or datetime.now(UTC)) + timedelta(minutes=10), datetime.now(UTC))
    return await render(
        request,
        backends,
        "alert.html",
        org=org_context,
        section="alerts",
        crumbs=[Crumb("Alerts", org_url(org_context.slug, "alerts")), Crumb(detail.rule.name)],
        fragments=("alert_live",),
        status_code=status_code,
        alert=detail,
        channel_names=channel_names,
        errors=errors or {},
        durations=DURATIONS,
        around=(int(start.timestamp()), int(end.timestamp())),
    )


@get("/orgs/{org:str}/alerts/{alert_id:str}", opt=access(Access.VIEWER))
async def alert_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    alert_id: FromPath[str],
) -> Template | Response[Any]:
    """One alert: value against threshold, acknowledgement, its timeline of state changes
    and deliveries (with their errors), and its target's charts. Without a `range` the page
    redirects to the range that shows the alert: the shortest one back to a little before it
    started while it is open, the window around it once resolved."""
    if "range" not in request.query_params and request.headers.get("hx-request") != "true":
        detail = await services.get_alert(backends, org_context, alert_id)
        return see_other(request, url_with(request, **_range_around(detail)))
    return await _alert_view(request, backends, org_context, alert_id)


PRESETS = (("1h", 3600), ("6h", 6 * 3600), ("24h", 86400), ("7d", 7 * 86400))


def _range_around(detail: Any) -> dict[str, str]:
    now = datetime.now(UTC)
    start = detail.started_at - timedelta(minutes=10)
    if detail.resolved_at is None:
        for key, seconds in PRESETS:
            if (now - start).total_seconds() <= seconds:
                return {"range": key}
        return {"range": "30d"}
    end = min(detail.resolved_at + timedelta(minutes=10), now)
    return {"range": "custom", "from": str(int(start.timestamp())), "to": str(int(end.timestamp()))}


@post(
    "/orgs/{org:str}/alerts/{alert_id:str}/acknowledge",
    opt=access(Access.EDITOR, audit="alert.acknowledge"),
)
async def acknowledge(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    alert_id: FromPath[str],
) -> Response[Any] | Template:
    form = await request.form()
    comment = (form.get("comment") or "").strip() or None
    return await submit_form(
        request,
        lambda: services.acknowledge_alert(backends, org_context, alert_id, comment),
        again=partial(_alert_view, request, backends, org_context, alert_id),
        done=org_url(org_context.slug, "alerts", alert_id),
        catch=(Invalid, Conflict),
    )


# ---- silences ------------------------------------------------------------------------------


def _prefill_from(detail: Any) -> dict[str, str]:
    target = detail.target
    return {
        "matchers.rule_id": str(detail.rule.id),
        "matchers.cluster": target.get("cluster") or "",
        "matchers.stream": target.get("stream") or "",
        "matchers.consumer": target.get("consumer") or "",
        "matchers.severity": "",
        "duration": "3600",
        "ends_at": "",
        "comment": "",
        "from_alert": str(detail.id),
    }


async def _silences_view(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    show = request.query_params.get("show") or "active"
    listing = await services.list_silences(
        backends, org_context, include_ended=show == "all", limit=200
    )
    rule_list = await rules.list_rules(backends, org_context, limit=500)
    if values is None:
        values = {"duration": "3600"}
        from_alert = request.query_params.get("alert")
        if from_alert:
            values = _prefill_from(await services.get_alert(backends, org_context, from_alert))
    return await render(
        request,
        backends,
        "silences.html",
        org=org_context,
        section="alerts",
        crumbs=[Crumb("Alerts", org_url(org_context.slug, "alerts")), Crumb("Silences")],
        fragments=("silences_table",),
        status_code=status_code,
        silences=listing.items,
        show=show,
        values=values,
        errors=errors or {},
        rule_names={str(r.id): r.name for r in rule_list.items},
        rule_list=rule_list.items,
        durations=DURATIONS,
        severities=SEVERITIES,
    )


@get("/orgs/{org:str}/alerts/silences", opt=access(Access.VIEWER))
async def silences_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    """Active silences (`?show=all`: ended ones too) and, for editors, the form that makes
    one (`?alert=<id>` fills it from that alert's rule and target)."""
    return await _silences_view(request, backends, org_context)


def _silence_in(form: dict[str, str]) -> SilenceIn:
    matchers: dict[str, Any] = {}
    for key in ("rule_id", "cluster", "stream", "consumer", "severity"):
        value = (form.get(f"matchers.{key}") or "").strip()
        if value:
            matchers[key] = value
    ends_text = (form.get("ends_at") or "").strip()
    if ends_text:
        try:
            ends = datetime.fromisoformat(ends_text)
        except ValueError:
            raise Invalid("ends_at: expected a date and time", extra={"field": "ends_at"}) from None
        ends = ends if ends.tzinfo else ends.replace(tzinfo=UTC)
    else:
        try:
            seconds = int(form.get("duration") or 0)
        except ValueError:
            seconds = 0
        if seconds <= 0:
            raise Invalid("duration: choose how long", extra={"field": "duration"})
        ends = datetime.now(UTC) + timedelta(seconds=seconds)
    comment = (form.get("comment") or "").strip()
    if not comment:
        raise Invalid("comment: say why", extra={"field": "comment"})
    try:
        parsed = msgspec.convert(matchers, SilenceMatchers)
    except msgspec.ValidationError as exc:
        field = "matchers." + str(exc).rsplit("$.", 1)[-1].rstrip("`") if "$." in str(exc) else ""
        raise Invalid(
            f"{field or 'matchers'}: {exc}", extra={"field": field or "matchers"}
        ) from None
    return SilenceIn(matchers=parsed, ends_at=ends, comment=comment)


@post("/orgs/{org:str}/alerts/silences", opt=access(Access.EDITOR, audit="silence.create"))
async def create_silence(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    form = await read_form(request)
    return await submit_form(
        request,
        lambda: services.create_silence(backends, org_context, _silence_in(form)),
        again=partial(_silences_view, request, backends, org_context, values=form),
        done=org_url(org_context.slug, "alerts", form.get("from_alert") or "silences"),
        catch=(Invalid, Conflict),
    )


@post(
    "/orgs/{org:str}/alerts/silences/{silence_id:str}/end",
    opt=access(Access.EDITOR, audit="silence.end"),
)
async def end_silence(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    silence_id: FromPath[str],
) -> Response[Any]:
    await services.end_silence(backends, org_context, silence_id)
    return see_other(request, org_url(org_context.slug, "alerts", "silences"))


# ---- rules ---------------------------------------------------------------------------------


@get("/orgs/{org:str}/alerts/rules", opt=access(Access.VIEWER))
async def rules_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    listing = await rules.list_rules(backends, org_context, limit=500)
    return await render(
        request,
        backends,
        "alert_rules.html",
        org=org_context,
        section="alerts",
        crumbs=[Crumb("Alerts", org_url(org_context.slug, "alerts")), Crumb("Rules")],
        rule_list=listing.items,
    )


def _rule_values(rule: Any | None) -> dict[str, Any]:
    if rule is None:
        return {
            "severity": "warning",
            "enabled": "on",
            "notify_resolved": "on",
            "condition.kind": "threshold",
            "condition.op": ">",
            "condition.for_seconds": "0",
            "repeat_interval_seconds": "3600",
            "channels": [],
        }
    cond = rule.condition
    return {
        "name": rule.name,
        "description": rule.description or "",
        "runbook_url": rule.runbook_url or "",
        "enabled": "on" if rule.enabled else "",
        "severity": rule.severity,
        "scope.cluster": rule.scope.get("cluster", ""),
        "scope.stream": rule.scope.get("stream", ""),
        "scope.consumer": rule.scope.get("consumer", ""),
        "condition.kind": cond.get("kind", "threshold"),
        "condition.metric": cond.get("metric", ""),
        "condition.op": cond.get("op", ">"),
        "condition.threshold": "" if cond.get("threshold") is None else f"{cond['threshold']:g}",
        "condition.for_seconds": str(cond.get("for_seconds", 0)),
        "channels": list(rule.channels),
        "repeat_interval_seconds": str(rule.repeat_interval_seconds),
        "notify_resolved": "on" if rule.notify_resolved else "",
        "labels": "\n".join(f"{k}={v}" for k, v in rule.labels.items()),
    }


def _form_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "channels"}
    values["channels"] = [str(c) for c in form.getall("channels", [])]
    return values


def _number(values: dict[str, Any], field: str, kind: type) -> Any:
    text = (values.get(field) or "").strip()
    if text == "":
        return None
    try:
        return kind(text)
    except ValueError:
        raise Invalid(
            f"{field}: expected a {'whole ' if kind is int else ''}number", extra={"field": field}
        ) from None


def _rule_in(values: dict[str, Any]) -> RuleIn:
    """The rule the editor's form describes; a mistake is an Invalid naming its field."""
    kind = values.get("condition.kind") or "threshold"
    condition: dict[str, Any] = {"kind": kind}
    for_seconds = _number(values, "condition.for_seconds", int)
    condition["for_seconds"] = for_seconds or 0
    if kind == "threshold":
        condition["metric"] = values.get("condition.metric") or None
        condition["op"] = values.get("condition.op") or None
        threshold = _number(values, "condition.threshold", float)
        if threshold is None:
            raise Invalid(
                "condition.threshold: expected a number", extra={"field": "condition.threshold"}
            )
        condition["threshold"] = threshold
    checked = rules.check_condition(condition)
    labels: dict[str, str] = {}
    for line in (values.get("labels") or "").splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise Invalid("labels: one key=value a line", extra={"field": "labels"})
        labels[key.strip()] = value.strip()
    scope = {
        part: str(values.get(f"scope.{part}")).strip()
        for part in ("cluster", "stream", "consumer")
        if (values.get(f"scope.{part}") or "").strip()
    }
    repeat = _number(values, "repeat_interval_seconds", int)
    name = (values.get("name") or "").strip()
    if not name:
        raise Invalid("name: a rule needs a name", extra={"field": "name"})
    if values.get("severity") not in SEVERITIES:
        raise Invalid("severity: info, warning or critical", extra={"field": "severity"})
    return RuleIn(
        name=name,
        condition=msgspec.convert(checked, Condition),
        severity=values["severity"],
        description=(values.get("description") or "").strip() or None,
        runbook_url=(values.get("runbook_url") or "").strip() or None,
        enabled=bool(values.get("enabled")),
        scope=msgspec.convert(scope, Scope),
        channels=list(values.get("channels") or []),
        repeat_interval_seconds=3600 if repeat is None else repeat,
        notify_resolved=bool(values.get("notify_resolved")),
        labels=labels,
    )


async def _rule_form(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    *,
    rule_id: str | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    preview: Any = None,
    status_code: int = 200,
) -> Template:
    channel_list = await _channel_choices(backends, org_context)
    label = values.get("name") or "New rule" if rule_id is None else values.get("name") or "Rule"
    return await render(
        request,
        backends,
        "alert_rule.html",
        org=org_context,
        section="alerts",
        crumbs=[
            Crumb("Alerts", org_url(org_context.slug, "alerts")),
            Crumb("Rules", org_url(org_context.slug, "alerts", "rules")),
            Crumb(label),
        ],
        fragments=("rule_preview",),
        status_code=status_code,
        rule_id=rule_id,
        values=values,
        errors=errors or {},
        preview=preview,
        metrics=sorted(METRICS),
        operators=OPERATORS,
        severities=SEVERITIES,
        channel_list=channel_list,
    )


async def _channel_choices(backends: Backends, ctx: OrgContext) -> list[tuple[str, str, str]]:
    """(id, name, kind) of the organization's channels, for the rule editor. Editors pick
    channels without reading their settings (channels' pages are for admins)."""
    assert backends.database is not None
    async with backends.database.session() as session:
        rows = await session.execute(
            select(NotificationChannel.id, NotificationChannel.name, NotificationChannel.kind)
            .where(NotificationChannel.org_id == ctx.org_id)
            .order_by(NotificationChannel.name)
        )
        return [(str(i), n, k) for i, n, k in rows]


@get("/orgs/{org:str}/alerts/rules/new", opt=access(Access.EDITOR))
async def new_rule_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    return await _rule_form(request, backends, org_context, rule_id=None, values=_rule_values(None))


@get("/orgs/{org:str}/alerts/rules/{rule_id:str}", opt=access(Access.VIEWER))
async def rule_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    rule_id: FromPath[str],
) -> Template:
    """The rule's editor (read-only for viewers)."""
    rule = await rules.get_rule(backends, org_context, rule_id)
    return await _rule_form(
        request, backends, org_context, rule_id=str(rule.id), values=_rule_values(rule)
    )


async def _save_rule(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    rule_id: str | None,
) -> Response[Any] | Template:
    values = _form_values(await request.form())

    async def save() -> Any:
        data = _rule_in(values)
        if rule_id is None:
            return await rules.create_rule(backends, org_context, data)
        return await rules.update_rule(backends, org_context, rule_id, data)

    return await submit_form(
        request,
        save,
        again=partial(_rule_form, request, backends, org_context, rule_id=rule_id, values=values),
        done=org_url(org_context.slug, "alerts", "rules"),
        catch=(Invalid, Conflict),
    )


@post("/orgs/{org:str}/alerts/rules", opt=access(Access.EDITOR, audit="alert_rule.create"))
async def create_rule(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    return await _save_rule(request, backends, org_context, None)


@post(
    "/orgs/{org:str}/alerts/rules/{rule_id:str}",
    opt=access(Access.EDITOR, audit="alert_rule.update"),
)
async def update_rule(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    rule_id: FromPath[str],
) -> Response[Any] | Template:
    return await _save_rule(request, backends, org_context, rule_id)


@post(
    "/orgs/{org:str}/alerts/rules/{rule_id:str}/delete",
    opt=access(Access.EDITOR, audit="alert_rule.delete"),
)
async def delete_rule(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    rule_id: FromPath[str],
) -> Response[Any] | Template:
    rule = await rules.get_rule(backends, org_context, rule_id)
    form = await request.form()
    if (form.get("confirm") or "") != rule.name:
        return await _rule_form(
            request,
            backends,
            org_context,
            rule_id=str(rule.id),
            values=_rule_values(rule),
            errors={"confirm": "Type the rule's name to delete it."},
            status_code=422,
        )
    await rules.delete_rule(backends, org_context, rule_id)
    return see_other(request, org_url(org_context.slug, "alerts", "rules"))


@post(
    "/orgs/{org:str}/alerts/rules/preview",
    opt=access(Access.EDITOR, audit_exempt="reads the clusters live; stores and sends nothing"),
)
async def preview_rule(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    """What the rule in the editor would match now (unsaved; nothing stored, nothing sent)."""
    values = _form_values(await request.form())
    rule_id = values.get("rule_id") or None
    again = partial(_rule_form, request, backends, org_context, rule_id=rule_id, values=values)
    try:
        data = _rule_in(values)
    except (Invalid, Conflict) as exc:
        return await again(errors=form_errors(exc), status_code=422)
    draft = AlertRule(
        org_id=org_context.org_id,
        name=data.name,
        severity=data.severity,
        scope=msgspec.to_builtins(data.scope),
        condition=msgspec.to_builtins(data.condition),
        channels=[],
        labels=data.labels,
        enabled=True,
    )
    assert backends.database is not None
    async with backends.database.session() as session:
        clusters = [
            c
            for c in (
                await session.scalars(
                    select(Cluster)
                    .where(Cluster.org_id == org_context.org_id)
                    .order_by(Cluster.name)
                )
            ).all()
            if matches(draft.scope.get("cluster"), c.name)
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
    found = await rules.preview(backends, draft, clusters, previous)
    return await again(preview=found)


ALERT_HANDLERS = [
    alerts_page,
    silences_page,
    create_silence,
    end_silence,
    rules_page,
    new_rule_page,
    create_rule,
    preview_rule,
    rule_page,
    update_rule,
    delete_rule,
    alert_page,
    acknowledge,
]
