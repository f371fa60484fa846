"""Notification channels: create, read, change, remove, rotate a webhook's signing secret,
send a test (through the same outbox path as an alert), list recent deliveries."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.accounts.principals import OrgContext
from shared.accounts.schemas import Page
from shared.alerts.models import AlertRule
from shared.audit import record_change
from shared.backends import Backends
from shared.crypto import decrypt_json, encrypt_json
from shared.db import Database
from shared.db.base import utcnow
from shared.errors import Invalid, NotFound, Unavailable
from shared.notify import http
from shared.notify.base import channel_class, channel_for
from shared.notify.message import console_base, test_payload
from shared.notify.models import Delivery, NotificationChannel
from shared.notify.outbox import deliver
from shared.notify.schemas import (
    ChannelIn,
    ChannelOut,
    ChannelPatch,
    Circuit,
    DeliveryOut,
    TestResult,
)
from shared.notify.webhook import new_signing_secret

# Config keys each kind accepts (secret ones per the channel module's `secret_fields`).
KEYS = {
    "slack": ("webhook_url",),
    "webhook": ("url", "headers"),
    "email": ("to",),
    "pagerduty": ("routing_key",),
    "telegram": ("bot_token", "chat_id"),
}
# URLs JetDeck will call, checked by the SSRF guard when saved (and again when called).
URL_KEYS = ("webhook_url", "url")


def _db(backends: Backends) -> Database:
    if backends.database is None:
        raise Unavailable("The database is not configured.", code="database_unavailable")
    return backends.database


def _split(kind: str, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    cls = channel_class(kind)
    unknown = sorted(set(config) - set(KEYS[kind]))
    if unknown:
        raise Invalid(
            f"config.{unknown[0]}: not a {kind} setting (expected {', '.join(KEYS[kind])})",
            code="invalid_channel_config",
            extra={"field": f"config.{unknown[0]}"},
        )
    plain = {k: v for k, v in config.items() if k not in cls.secret_fields}
    secret = {k: v for k, v in config.items() if k in cls.secret_fields and v not in (None, "")}
    return plain, secret


async def _check(
    backends: Backends, kind: str, plain: dict[str, Any], secret: dict[str, Any]
) -> None:
    cls = channel_class(kind)
    missing = [k for k in cls.required if not (plain.get(k) or secret.get(k))]
    if missing:
        raise Invalid(
            f"config.{missing[0]}: required for a {kind} channel",
            code="invalid_channel_config",
            extra={"field": f"config.{missing[0]}"},
        )
    channel_for(kind, backends.settings).check_config(plain, secret)
    for key in URL_KEYS:
        if key in secret:
            await http.check_url(str(secret[key]), backends.settings.notify, f"config.{key}")


def to_out(channel: NotificationChannel, secret: dict[str, Any]) -> ChannelOut:
    cls = channel_class(channel.kind)
    config = dict(channel.config)
    for key in cls.secret_fields:
        if key == "signing_secret":
            config["signing_secret_set"] = bool(secret.get(key))
        elif key == "headers":
            config["headers"] = sorted(secret.get("headers") or {})  # names only
        else:
            config[f"{key}_set"] = bool(secret.get(key))
    now = utcnow()
    open_ = channel.circuit_open_until is not None and channel.circuit_open_until > now
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        kind=channel.kind,
        config=config,
        enabled=channel.enabled,
        last_error=channel.last_error,
        last_error_at=channel.last_error_at,
        disabled_reason=channel.disabled_reason,
        circuit=Circuit(
            state="open" if open_ else "closed",
            consecutive_failures=channel.consecutive_failures,
            open_until=channel.circuit_open_until if open_ else None,
        ),
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def _public(out: ChannelOut) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(out)
    for key in (
        "created_at",
        "updated_at",
        "circuit",
        "last_error",
        "last_error_at",
        "signing_secret",
    ):
        data.pop(key, None)
    return data


def _uuid(value: str | uuid.UUID, what: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"No {what} {value!r}", code=f"{what.replace(' ', '_')}_not_found") from None


async def _load(
    session: AsyncSession, org_id: uuid.UUID, channel_id: str | uuid.UUID
) -> NotificationChannel:
    key = _uuid(channel_id, "notification channel")
    channel = await session.scalar(
        select(NotificationChannel).where(
            NotificationChannel.org_id == org_id, NotificationChannel.id == key
        )
    )
    if channel is None:
        raise NotFound(
            f"No notification channel {channel_id} in this organization",
            code="notification_channel_not_found",
        )
    return channel


async def create_channel(backends: Backends, ctx: OrgContext, data: ChannelIn) -> ChannelOut:
    plain, secret = _split(data.kind, data.config)
    await _check(backends, data.kind, plain, secret)
    signing = None
    if data.kind == "webhook":
        signing = secret["signing_secret"] = new_signing_secret()
    async with _db(backends).session() as session:
        channel = NotificationChannel(
            org_id=ctx.org_id,
            name=data.name,
            kind=data.kind,
            config=plain,
            secrets=encrypt_json(backends.settings, secret),
            enabled=data.enabled,
        )
        session.add(channel)
        await session.flush()
        out = to_out(channel, secret)
    record_change(f"notification_channel:{out.id}", None, _public(out))
    out.signing_secret = signing
    return out


async def list_channels(backends: Backends, ctx: OrgContext) -> Page[ChannelOut]:
    async with _db(backends).session() as session:
        rows = (
            await session.scalars(
                select(NotificationChannel)
                .where(NotificationChannel.org_id == ctx.org_id)
                .order_by(NotificationChannel.name)
            )
        ).all()
        items = [to_out(c, decrypt_json(backends.settings, c.secrets)) for c in rows]
    return Page(items=items, total=len(items))


async def get_channel(
    backends: Backends, ctx: OrgContext, channel_id: str | uuid.UUID
) -> ChannelOut:
    async with _db(backends).session() as session:
        channel = await _load(session, ctx.org_id, channel_id)
        return to_out(channel, decrypt_json(backends.settings, channel.secrets))


async def update_channel(
    backends: Backends, ctx: OrgContext, channel_id: str | uuid.UUID, patch: ChannelPatch
) -> ChannelOut:
    async with _db(backends).session() as session:
        channel = await _load(session, ctx.org_id, channel_id)
        stored = decrypt_json(backends.settings, channel.secrets)
        before = _public(to_out(channel, stored))
        if patch.name is not None:
            channel.name = patch.name
        if patch.config is not None:
            plain, secret = _split(channel.kind, patch.config)
            plain = {**channel.config, **plain}
            merged = {**stored, **secret}
            await _check(backends, channel.kind, plain, merged)
            channel.config = plain
            stored = merged
            channel.secrets = encrypt_json(backends.settings, stored)
        if patch.enabled is not None:
            channel.enabled = patch.enabled
            if patch.enabled:
                channel.disabled_reason = None
                channel.circuit_open_until = None
                channel.consecutive_failures = 0
        await session.flush()
        await session.refresh(channel)
        out = to_out(channel, stored)
    record_change(f"notification_channel:{out.id}", before, _public(out))
    return out


async def delete_channel(backends: Backends, ctx: OrgContext, channel_id: str | uuid.UUID) -> None:
    async with _db(backends).session() as session:
        channel = await _load(session, ctx.org_id, channel_id)
        before = _public(to_out(channel, decrypt_json(backends.settings, channel.secrets)))
        ref = str(channel.id)
        # Rules stop naming it (their other channels keep notifying).
        for rule in (
            await session.scalars(
                select(AlertRule).where(
                    AlertRule.org_id == ctx.org_id, AlertRule.channels.contains([ref])
                )
            )
        ).all():
            rule.channels = [c for c in rule.channels if c != ref]
        await session.delete(channel)
    record_change(f"notification_channel:{channel_id}", before, None)


async def rotate_secret(
    backends: Backends, ctx: OrgContext, channel_id: str | uuid.UUID
) -> ChannelOut:
    """A new signing secret for a webhook channel, shown once in the answer."""
    async with _db(backends).session() as session:
        channel = await _load(session, ctx.org_id, channel_id)
        if channel.kind != "webhook":
            raise Invalid(
                "Only webhook channels have a signing secret",
                code="no_signing_secret",
                extra={"field": "kind"},
            )
        stored = decrypt_json(backends.settings, channel.secrets)
        stored["signing_secret"] = signing = new_signing_secret()
        channel.secrets = encrypt_json(backends.settings, stored)
        channel.updated_at = utcnow()
        await session.flush()
        out = to_out(channel, stored)
    record_change(
        f"notification_channel:{out.id}", {"signing_secret": "old"}, {"signing_secret": "new"}
    )
    out.signing_secret = signing
    return out


async def send_test(backends: Backends, ctx: OrgContext, channel_id: str | uuid.UUID) -> TestResult:
    """Send a test message now, through the outbox like an alert (signing and SSRF guard
    included); not retried, its answer is returned."""
    async with _db(backends).session() as session:
        channel = await _load(session, ctx.org_id, channel_id)
        delivery = Delivery(
            org_id=ctx.org_id,
            channel_id=channel.id,
            event="test",
            payload=test_payload(channel.name, console_base(backends.settings), utcnow()),
        )
        session.add(delivery)
        await session.flush()
        delivery_id = delivery.id
    outcome = await deliver(backends, delivery_id, retry=False)
    if outcome.state == "failed" and outcome.error is None:
        outcome.error = "not sent"
    return TestResult(
        ok=outcome.state == "sent",
        status_code=outcome.status_code,
        error=outcome.error if outcome.state != "sent" else None,
        delivery_id=delivery_id,
    )


def delivery_out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=d.id,
        alert_id=d.alert_id,
        event=d.event,
        state="pending" if d.state == "sending" else d.state,
        attempts=d.attempts,
        last_error=d.last_error,
        response_code=d.response_code,
        created_at=d.created_at,
        sent_at=d.sent_at,
        channel_id=d.channel_id,
        next_attempt_at=d.next_attempt_at if d.state in ("pending", "sending") else None,
        alert_count=len(d.alert_ids or []),
    )


async def list_deliveries(
    backends: Backends,
    ctx: OrgContext,
    channel_id: str | uuid.UUID,
    *,
    offset: int = 0,
    limit: int = 100,
) -> Page[DeliveryOut]:
    """The channel's deliveries, newest first, with their errors."""
    async with _db(backends).session() as session:
        channel = await _load(session, ctx.org_id, channel_id)
        where = Delivery.channel_id == channel.id
        total = await session.scalar(select(func.count()).select_from(Delivery).where(where))
        rows = await session.scalars(
            select(Delivery)
            .where(where)
            .order_by(Delivery.created_at.desc())
            .offset(offset)
            .limit(limit)
        )
        return Page([delivery_out(d) for d in rows], total or 0)
