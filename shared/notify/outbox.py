"""Delivery from the outbox (ARCHITECTURE.md, decision 13; STYLE.md, "claim work atomically").

A delivery row is written in the same transaction as the alert change that causes it. A
worker claims it with a conditional UPDATE (`state = 'pending'`, due): only one worker wins.
The attempt is recorded and committed before the call goes out, and completed after, so a
worker killed mid-call leaves a row in "sending" that `sweep` hands out again, under the same
id (the `webhook-id`), for the receiver to deduplicate.

Transient failures (connection errors, timeouts, 408, 429, 5xx) retry with exponential
backoff and jitter, `max_attempts` in all (default 7: six retries over about 30 minutes);
429's Retry-After is honoured. Permanent ones fail at once and become the channel's last
error; a 410 also turns the channel off. A circuit breaker per channel holds deliveries back
(without calling out) for `breaker_seconds` once `breaker_failures` transient failures came in
a row; the channel shows it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from shared.backends import Backends
from shared.config import NotifySettings
from shared.crypto import decrypt_json
from shared.db import Database
from shared.db.base import utcnow
from shared.errors import Unavailable
from shared.notify.base import ChannelConfig, DeliveryError, Outgoing, channel_for
from shared.notify.models import Delivery, DeliveryAttempt, NotificationChannel

log = logging.getLogger("jetdeck.notify")


@dataclass
class Outcome:
    state: str  # sent | retry | failed | held | skipped
    status_code: int | None = None
    error: str | None = None
    retry_in: float | None = None  # seconds until the next attempt (retry, held)


def backoff(attempt: int, settings: NotifySettings, retry_after: float | None = None) -> float:
    """Seconds before attempt `attempt + 1`: base x 2^(attempt-1), ±20% jitter; never less
    than what a 429's Retry-After asked for (capped at an hour)."""
    delay = settings.retry_base_seconds * 2 ** max(0, attempt - 1)
    delay *= random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not a secret)
    if retry_after is not None:
        delay = max(delay, min(retry_after, 3600.0))
    return delay


def _db(backends: Backends) -> Database:
    if backends.database is None:
        raise Unavailable("Delivery needs the database (JETDECK_DATABASE_URL).")
    return backends.database


async def deliver(
    backends: Backends, delivery_id: uuid.UUID | str, *, retry: bool = True
) -> Outcome:
    """Claim one due delivery, send it, record the answer. Idempotent: a delivery that is
    not pending and due (sent, failed, claimed by another worker) is skipped."""
    settings = backends.settings
    key = uuid.UUID(str(delivery_id))
    db = _db(backends)
    now = utcnow()
    async with db.session() as session:
        row = (
            await session.execute(
                select(Delivery, NotificationChannel)
                .join(NotificationChannel, NotificationChannel.id == Delivery.channel_id)
                .where(Delivery.id == key)
            )
        ).first()
        if row is None:
            return Outcome("skipped")
        delivery, channel = row
        if delivery.state != "pending" or delivery.next_attempt_at > now:
            return Outcome("skipped")
        if not channel.enabled:
            delivery.state = "failed"
            delivery.last_error = channel.disabled_reason or "the channel is disabled"
            return Outcome("failed", error=delivery.last_error)
        if channel.circuit_open_until is not None and channel.circuit_open_until > now:
            delivery.next_attempt_at = channel.circuit_open_until
            return Outcome("held", retry_in=(channel.circuit_open_until - now).total_seconds())
        claimed = await session.execute(
            update(Delivery)
            .where(Delivery.id == key, Delivery.state == "pending")
            .values(state="sending", claimed_at=now, attempts=Delivery.attempts + 1)
            .returning(Delivery.attempts)
        )
        attempts = claimed.scalar_one_or_none()
        if attempts is None:
            return Outcome("skipped")  # another worker won the claim
        attempt = DeliveryAttempt(delivery_id=key, number=attempts, started_at=now)
        session.add(attempt)
        await session.flush()
        attempt_id = attempt.id
        config = ChannelConfig(
            id=str(channel.id),
            name=channel.name,
            kind=channel.kind,
            config=dict(channel.config),
            secrets=decrypt_json(settings, channel.secrets),
        )
        outgoing = Outgoing(id=str(delivery.id), payload=dict(delivery.payload))
    # Committed: the claim and the attempt exist before anything goes out.
    error: DeliveryError | None = None
    status: int | None = None
    try:
        # A call never outlives its claim: past `stale_after_seconds` the sweeper would hand
        # the delivery to another worker while this one still talks to the endpoint.
        async with asyncio.timeout(send_deadline(settings.notify)):
            result = await channel_for(config.kind, settings).send(outgoing, config)
        status = result.status_code
    except TimeoutError:
        error = DeliveryError(
            f"no answer within {send_deadline(settings.notify):g} s "
            "(JETDECK_NOTIFY_STALE_AFTER_SECONDS / 2)",
            permanent=False,
        )
    except DeliveryError as exc:
        error = exc
        status = exc.status_code
    except Exception as exc:  # a bug in a channel must not leave the row claimed forever
        log.exception("channel %s failed unexpectedly", config.kind)
        error = DeliveryError(f"internal error: {type(exc).__name__}", permanent=True)
    return await _record(backends, key, attempt_id, attempts, error, status, retry)


def send_deadline(settings: NotifySettings) -> float:
    """Seconds one call may take in all (connects, redirects, reads): half the time after
    which the sweeper takes a claim back, so a live call is never sent twice at once."""
    return settings.stale_after_seconds / 2


async def _record(
    backends: Backends,
    key: uuid.UUID,
    attempt_id: uuid.UUID,
    attempts: int,
    error: DeliveryError | None,
    status: int | None,
    retry: bool,
) -> Outcome:
    settings = backends.settings.notify
    now = utcnow()
    async with _db(backends).session() as session:
        delivery = await session.get(Delivery, key, with_for_update=True)
        attempt = await session.get(DeliveryAttempt, attempt_id)
        if delivery is None or attempt is None:
            return Outcome("skipped")
        if attempt.finished_at is not None:
            # The sweeper took the claim back meanwhile (the worker was frozen longer than
            # `stale_after_seconds`). A success still counts if nobody has claimed it again;
            # anything else belongs to whoever holds the delivery now.
            if error is None and delivery.state == "pending":
                attempt.outcome, attempt.finished_at, attempt.response_code = "sent", now, status
                delivery.state, delivery.sent_at, delivery.last_error = "sent", now, None
                delivery.response_code = status
                return Outcome("sent", status_code=status)
            return Outcome("skipped")
        channel = await session.get(NotificationChannel, delivery.channel_id, with_for_update=True)
        assert channel is not None
        attempt.finished_at = now
        attempt.response_code = status
        delivery.response_code = status
        if error is None:
            attempt.outcome = "sent"
            delivery.state, delivery.sent_at, delivery.last_error = "sent", now, None
            channel.consecutive_failures = 0
            channel.circuit_open_until = None
            return Outcome("sent", status_code=status)
        attempt.error = delivery.last_error = error.message
        if not error.permanent:
            channel.consecutive_failures += 1
            if channel.consecutive_failures >= settings.breaker_failures:
                channel.circuit_open_until = now + timedelta(seconds=settings.breaker_seconds)
        if not error.permanent and retry and attempts < settings.max_attempts:
            delay = backoff(attempts, settings, error.retry_after)
            attempt.outcome = "retry"
            delivery.state = "pending"
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            return Outcome("retry", status_code=status, error=error.message, retry_in=delay)
        attempt.outcome = "failed"
        delivery.state = "failed"
        channel.last_error, channel.last_error_at = error.message, now
        if error.gone:
            channel.enabled = False
            channel.disabled_reason = (
                f"turned off after the endpoint answered 410 Gone ({now:%Y-%m-%d %H:%M} UTC)"
            )
        return Outcome("failed", status_code=status, error=error.message)


async def sweep(backends: Backends, *, now: datetime | None = None) -> list[str]:
    """Hand out again what a dead worker or a lost message left behind: deliveries still
    "sending" long after their claim (their open attempt is marked interrupted) go back to
    pending, due now. Returns every pending delivery that is due, to enqueue."""
    settings = backends.settings.notify
    now = now or utcnow()
    stale = now - timedelta(seconds=settings.stale_after_seconds)
    async with _db(backends).session() as session:
        revived = (
            await session.scalars(
                update(Delivery)
                .where(Delivery.state == "sending", Delivery.claimed_at < stale)
                .values(state="pending", next_attempt_at=min(now, utcnow()))
                .returning(Delivery.id)
            )
        ).all()
        if revived:
            await session.execute(
                update(DeliveryAttempt)
                .where(
                    DeliveryAttempt.delivery_id.in_(revived),
                    DeliveryAttempt.finished_at.is_(None),
                )
                .values(finished_at=now, outcome="interrupted", error="the worker stopped mid-call")
            )
            log.warning("re-queued %d deliveries a stopped worker left sending", len(revived))
        due = (
            await session.scalars(
                select(Delivery.id)
                .where(Delivery.state == "pending", Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at)
                .limit(1000)
            )
        ).all()
    return [str(i) for i in due]
