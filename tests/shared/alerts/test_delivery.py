"""Delivery from the outbox: retries of transient failures under one webhook-id, permanent
failures shown on the channel, 410 turning a channel off, Retry-After, the circuit breaker,
and the SSRF guard at save time and at send time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from shared.backends import Backends
from shared.config import NotifySettings
from shared.errors import Invalid
from shared.notify import channels
from shared.notify.models import DeliveryAttempt
from shared.notify.outbox import deliver
from shared.notify.schemas import ChannelIn, ChannelPatch
from tests.shared.alerts.conftest import consumer

LAG = {"metric": "consumer.num_pending", "op": ">", "threshold": 10, "for_seconds": 0}


async def one_delivery(alerting: Any, url: str, nats_server: Any = None) -> tuple[Any, str]:
    """A webhook channel and the delivery of one lagging consumer's alert to it: from a real
    collection of `nats_server` when given, else from a hand-made cycle."""
    hook = await alerting.channel("webhook", url=url)
    await alerting.rule(condition=LAG, channels=[str(hook.id)])
    if nats_server is not None:
        (delivery_id,) = await alerting.lagging(nats_server)
        return hook, delivery_id
    cluster = await alerting.cluster()
    lagging = alerting.collection(cluster, consumers=[consumer("ORDERS", "c1", pending=50)])
    (delivery_id,) = await alerting.evaluate(cluster, 0, lagging)
    return hook, delivery_id


async def attempts_of(alerting: Any, delivery_id: str) -> list[DeliveryAttempt]:
    async with alerting.backends.database.session() as session:
        return list(
            (
                await session.scalars(
                    select(DeliveryAttempt)
                    .where(DeliveryAttempt.delivery_id == delivery_id)
                    .order_by(DeliveryAttempt.number)
                )
            ).all()
        )


async def test_500_twice_then_200_is_delivered_once_under_one_webhook_id_in_three_attempts(
    alerting, receiver, nats_server
):
    receiver.script("/hook", [500, 500, 200])
    hook, delivery_id = await one_delivery(alerting, f"{receiver.url}/hook", nats_server)

    (outcome,) = await alerting.deliver([delivery_id])

    assert outcome.state == "sent"
    calls = receiver.on("/hook")
    assert len(calls) == 3
    assert len({c.headers["webhook-id"] for c in calls}) == 1
    for call in calls:
        assert call.method == "POST" and call.path == "/hook"
        body = Webhook(hook.signing_secret).verify(call.body, call.headers)
        assert body["data"]["target"] == {"cluster": "main", "stream": "ORDERS", "consumer": "c1"}
        assert body["data"]["value"] == 50
    attempts = await attempts_of(alerting, delivery_id)
    assert [(a.number, a.outcome, a.response_code) for a in attempts] == [
        (1, "retry", 500),
        (2, "retry", 500),
        (3, "sent", 200),
    ]
    page = await channels.list_deliveries(alerting.backends, alerting.ctx, hook.id)
    assert [(d.state, d.attempts, d.event) for d in page.items] == [("sent", 3, "firing")]


async def test_a_400_is_not_retried_and_shows_as_the_channels_last_error(
    alerting, receiver, nats_server
):
    receiver.script("/hook", [(400, {}, b"no such hook")])
    hook, delivery_id = await one_delivery(alerting, f"{receiver.url}/hook", nats_server)

    (outcome,) = await alerting.deliver([delivery_id])

    assert outcome.state == "failed" and len(receiver.on("/hook")) == 1
    channel = await channels.get_channel(alerting.backends, alerting.ctx, hook.id)
    assert channel.last_error == "The webhook answered 400: no such hook"
    assert channel.enabled
    (delivery,) = (await channels.list_deliveries(alerting.backends, alerting.ctx, hook.id)).items
    assert (delivery.state, delivery.attempts, delivery.response_code) == ("failed", 1, 400)


async def test_a_410_turns_the_channel_off(alerting, receiver):
    receiver.script("/hook", [410])
    hook, delivery_id = await one_delivery(alerting, f"{receiver.url}/hook")
    await alerting.deliver([delivery_id])
    channel = await channels.get_channel(alerting.backends, alerting.ctx, hook.id)
    assert not channel.enabled and "410" in (channel.disabled_reason or "")


async def test_a_429_waits_at_least_what_retry_after_says(alerting, receiver):
    receiver.script("/hook", [(429, {"Retry-After": "7"})])
    _, delivery_id = await one_delivery(alerting, f"{receiver.url}/hook")
    outcome = await deliver(alerting.backends, delivery_id)
    assert outcome.state == "retry" and outcome.retry_in is not None and outcome.retry_in >= 7


async def test_the_circuit_breaker_holds_deliveries_back_after_failures_in_a_row(
    alerting, receiver
):
    receiver.script("/hook", [503, 503, 503])
    settings = alerting.backends.settings
    tight = settings.model_copy(
        update={
            "notify": settings.notify.model_copy(
                update={"breaker_failures": 2, "breaker_seconds": 60}
            )
        }
    )
    hook, delivery_id = await one_delivery(alerting, f"{receiver.url}/hook")
    backends = Backends.open(tight)
    try:
        first = await deliver(backends, delivery_id)
        await asyncio.sleep(first.retry_in or 0)
        second = await deliver(backends, delivery_id)
        await asyncio.sleep(second.retry_in or 0)
        held = await deliver(backends, delivery_id)
    finally:
        await backends.close()
    assert (first.state, second.state, held.state) == ("retry", "retry", "held")
    assert len(receiver.on("/hook")) == 2  # the open circuit called nothing
    channel = await channels.get_channel(alerting.backends, alerting.ctx, hook.id)
    assert channel.circuit.state == "open" and channel.circuit.consecutive_failures == 2


async def test_a_private_address_is_refused_by_default(alerting, receiver, settings):
    strict = Backends.open(settings)  # JETDECK_NOTIFY_ALLOW_PRIVATE_NETWORKS unset
    try:
        for url in (f"{receiver.url}/hook", "http://localhost:9/hook", "http://10.1.2.3/hook"):
            with pytest.raises(Invalid) as refused:
                await channels.create_channel(
                    strict,
                    alerting.ctx,
                    ChannelIn(name="hook", kind="webhook", config={"url": url}),
                )
            assert refused.value.extra == {"field": "config.url"}
            assert "JETDECK_NOTIFY_ALLOW_PRIVATE_NETWORKS" in refused.value.detail
    finally:
        await strict.close()


async def test_the_guard_also_refuses_at_send_time_and_on_a_redirect(alerting, receiver, settings):
    # Saved while private networks were allowed, sent after they no longer are.
    hook, delivery_id = await one_delivery(alerting, f"{receiver.url}/hook")
    strict = Backends.open(settings)
    try:
        outcome = await deliver(strict, delivery_id)
    finally:
        await strict.close()
    assert outcome.state == "failed" and "refused" in (outcome.error or "")
    assert receiver.on("/hook") == []

    # A redirect to the cloud metadata address is refused even with private networks allowed.
    receiver.script("/redirect", [(307, {"Location": "http://169.254.169.254/latest/meta-data"})])
    await channels.update_channel(
        alerting.backends,
        alerting.ctx,
        hook.id,
        ChannelPatch(config={"url": f"{receiver.url}/redirect"}),
    )
    result = await channels.send_test(alerting.backends, alerting.ctx, hook.id)
    assert not result.ok and "refused" in (result.error or "")
    assert len(receiver.on("/redirect")) == 1


async def test_metadata_and_non_http_urls_are_refused_even_when_private_networks_are_allowed(
    alerting,
):
    for url in ("http://169.254.169.254/", "ftp://example.com/x", "http://[fe80::1]/x"):
        with pytest.raises(Invalid):
            await alerting.channel("webhook", url=url)
    assert NotifySettings().allow_private_networks is False
