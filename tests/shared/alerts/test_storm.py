"""A storm on the real cluster: 300 consumers of one stream lag at once. Real collection
cycles and evaluation, real local receivers: one grouped notification per channel (the
first N and the count), a silence keeps its share of the targets out of it, the cluster
going down notifies only the cluster's own alert (the 300 neither fire again nor resolve),
and the drained backlog is one resolved notice per channel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from standardwebhooks.webhooks import Webhook

from shared.alerts import services
from shared.alerts.schemas import SilenceIn, SilenceMatchers
from shared.backends import Backends
from shared.config import NatsSettings
from shared.db.base import utcnow
from tests.fixtures.nats import _jetstream_ready
from tests.fixtures.receivers import Receiver
from tests.shared.alerts.conftest import Alerting

CONSUMERS = 300
BACKLOG = 20
TELEGRAM_TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
LIST_LIMIT = 20  # NotifySettings.group_list_limit


async def lagging_consumers(nats_server: Any) -> None:
    """Stream ORDERS (file storage: it outlives a restart of the node) with BACKLOG messages
    and CONSUMERS durable consumers c000..c299 that have read none of them."""
    nc = await nats_server.connect()
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.>"], storage="file")
    for i in range(BACKLOG):
        await js.publish("orders.new", f"order {i}".encode())
    gate = asyncio.Semaphore(50)

    async def add(i: int) -> None:
        async with gate:
            await js.add_consumer(
                "ORDERS",
                config=ConsumerConfig(durable_name=f"c{i:03}", ack_policy=AckPolicy.EXPLICIT),
            )

    await asyncio.gather(*(add(i) for i in range(CONSUMERS)))
    assert (await js.stream_info("ORDERS")).state.consumer_count == CONSUMERS
    await nc.close()


async def stream_back(nats_server: Any) -> None:
    """After a restart: the node answers and has recovered the stream and its consumers."""
    await _jetstream_ready(nats_server)
    nc = await nats_server.connect()
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                info = await nc.jetstream().stream_info("ORDERS")
                if info.state.consumer_count == CONSUMERS and info.state.messages == BACKLOG:
                    return
            except Exception:
                if time.monotonic() > deadline:
                    raise
            assert time.monotonic() < deadline, "the stream did not come back whole"
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


async def firing(alerting: Any, rule: Any) -> int:
    page = await services.list_alerts(
        alerting.backends, alerting.ctx, state="firing", rule=str(rule.id), limit=1
    )
    return page.total


@pytest.fixture
async def alerting(alerting: Alerting) -> AsyncIterator[Alerting]:
    """The suite's fixture with a 3 s NATS request timeout (not 5): a cycle of the stopped
    node is over when its request times out."""
    settings = alerting.backends.settings
    quick = Backends.open(settings.model_copy(update={"nats": NatsSettings(request_timeout=3.0)}))
    yield Alerting(quick, alerting.ctx, alerting.clickhouse)
    await quick.close()


async def test_300_lagging_consumers_on_a_real_cluster_are_one_message_per_channel(
    alerting, nats_server, receiver: Receiver, smtp_server
):
    await lagging_consumers(nats_server)
    cluster = await alerting.cluster(nats_server)
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    slack = await alerting.channel("slack", webhook_url=f"{receiver.url}/slack/T0/B0/X")
    mail = await alerting.channel("email", to=["oncall@example.com"])
    tg = await alerting.channel("telegram", bot_token=TELEGRAM_TOKEN, chat_id="-1001234")
    assert hook.signing_secret is not None
    lag = await alerting.rule(
        name="orders lag",
        severity="critical",
        scope={"stream": "ORDERS"},
        condition={"metric": "consumer.num_pending", "op": ">", "threshold": 10, "for_seconds": 10},
        channels=[str(c.id) for c in (hook, slack, mail, tg)],
        repeat_interval_seconds=3600,
    )
    down = await alerting.rule(
        name="cluster down",
        severity="critical",
        condition={"metric": "cluster.unreachable", "op": "==", "threshold": 1},
        channels=[str(hook.id)],
    )
    # c200..c299 are silenced: they fire, and nobody hears of them.
    await services.create_silence(
        alerting.backends,
        alerting.ctx,
        SilenceIn(
            matchers=SilenceMatchers(stream="ORDERS", consumer="c2*"),
            ends_at=utcnow().replace(year=utcnow().year + 1),
            comment="c2xx are being replaced",
        ),
    )
    heard = CONSUMERS - 100

    # Cycle 1: every consumer breaches, for 0 s of the 10 the rule wants: all pending.
    assert await alerting.collect(cluster, 0) == []
    pending = await services.list_alerts(alerting.backends, alerting.ctx, state="pending", limit=1)
    assert pending.total == CONSUMERS

    # Cycle 2: all 300 fire; one delivery per channel, 200 targets in it.
    queued = await alerting.collect(cluster, 10)
    assert len(queued) == 4
    assert [o.state for o in await alerting.deliver(queued)] == ["sent"] * 4
    assert await firing(alerting, lag) == CONSUMERS
    assert len(receiver.requests) == 3 and len(smtp_server.messages) == 1

    (call,) = receiver.on("/hook")
    assert call.method == "POST" and call.headers["content-type"] == "application/json"
    body = Webhook(hook.signing_secret).verify(call.body, call.headers)
    assert body["type"] == "alert.firing" and body["data"]["rule"]["name"] == "orders lag"
    assert body["data"]["count"] == heard and len(body["data"]["alerts"]) == LIST_LIMIT
    listed = {a["target"]["consumer"] for a in body["data"]["alerts"]}
    assert not any(name.startswith("c2") for name in listed)
    assert {a["value"] for a in body["data"]["alerts"]} == {BACKLOG}
    (slack_call,) = receiver.on("/slack/")
    assert slack_call.method == "POST" and slack_call.path == "/slack/T0/B0/X"
    assert f"{heard} targets" in slack_call.json()["text"]
    assert f"and {heard - LIST_LIMIT} more" in str(slack_call.json()["blocks"])
    (tg_call,) = receiver.on("/telegram/")
    assert tg_call.path == f"/telegram/bot{TELEGRAM_TOKEN}/sendMessage"
    assert f"and {heard - LIST_LIMIT} more" in tg_call.json()["text"]
    (mail_msg,) = smtp_server.messages
    assert f"and {heard - LIST_LIMIT} more" in mail_msg.get_body(("plain",)).get_content()

    # The node stops: only the cluster's own alert notifies; the 300 stay firing, quietly.
    nats_server.stop_node(0)
    queued = await alerting.collect(cluster, 20)
    assert len(queued) == 1
    assert [o.state for o in await alerting.deliver(queued)] == ["sent"]
    outage = receiver.on("/hook")[1]
    assert Webhook(hook.signing_secret).verify(outage.body, outage.headers)["type"] == (
        "alert.firing"
    )
    assert outage.json()["data"]["rule"]["name"] == "cluster down"
    assert await alerting.collect(cluster, 30) == []  # still down: no repeat, no resolve
    assert await firing(alerting, lag) == CONSUMERS and await firing(alerting, down) == 1

    # Back, still lagging: the cluster's alert resolves after a full cycle; the 300 neither
    # resolve nor notify again.
    nats_server.restart_stopped_nodes()
    await stream_back(nats_server)
    assert await alerting.collect(cluster, 40) == []
    back = await alerting.collect(cluster, 50)
    assert len(back) == 1
    await alerting.deliver(back)
    assert receiver.on("/hook")[2].json()["type"] == "alert.resolved"
    assert receiver.on("/hook")[2].json()["data"]["rule"]["name"] == "cluster down"
    assert await firing(alerting, lag) == CONSUMERS and await firing(alerting, down) == 0

    # The backlog drains (the stream is purged): false for a full cycle, then one resolved
    # notice per channel, for the 200 that were notified.
    nc = await nats_server.connect()
    await nc.jetstream().purge_stream("ORDERS")
    await nc.close()
    assert await alerting.collect(cluster, 60) == []
    resolved = await alerting.collect(cluster, 70)
    assert len(resolved) == 4
    assert [o.state for o in await alerting.deliver(resolved)] == ["sent"] * 4
    assert await firing(alerting, lag) == 0
    notice = receiver.on("/hook")[3]
    body = Webhook(hook.signing_secret).verify(notice.body, notice.headers)
    assert body["type"] == "alert.resolved" and body["data"]["count"] == heard
    assert "RESOLVED" in receiver.on("/slack/")[1].json()["text"]
    assert len(receiver.on("/slack/")) == len(receiver.on("/telegram/")) == 2
    assert len(smtp_server.messages) == 2 and len(receiver.requests) == 8
