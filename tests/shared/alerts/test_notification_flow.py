"""A real consumer's backlog, from breach to resolved notice, through every channel and the
local receivers: pending → firing after the for-duration → one grouped notification per
channel → acknowledged → no repeat → drained → one resolved notice."""

from __future__ import annotations

from typing import Any

import msgspec
from nats.js.api import ConsumerConfig, StreamConfig
from standardwebhooks.webhooks import Webhook

from shared.alerts import services
from shared.clusters.schemas import ClusterIn
from shared.clusters.services import register_cluster
from tests.fixtures.receivers import Receiver
from tests.shared.metrics.conftest import add_stream, settling

TELEGRAM_TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
ROUTING_KEY = "R0123456789ABCDEF0123456789ABCDE"


async def backlog(nats_server: Any, count: int) -> Any:
    nc = await nats_server.connect()
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.>"], storage="memory")
    sub = await js.pull_subscribe("orders.>", durable="billing", stream="ORDERS")
    for i in range(count):
        await js.publish("orders.new", f"order {i}".encode())
    return nc, js, sub


async def all_channels(alerting: Any, receiver: Receiver) -> tuple[list[str], str]:
    slack = await alerting.channel("slack", webhook_url=f"{receiver.url}/slack/T000/B000/XXX")
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    mail = await alerting.channel("email", to=["oncall@example.com"])
    tg = await alerting.channel("telegram", bot_token=TELEGRAM_TOKEN, chat_id="-1001234")
    pd = await alerting.channel("pagerduty", routing_key=ROUTING_KEY)
    assert hook.signing_secret and hook.signing_secret.startswith("whsec_")
    return [str(c.id) for c in (slack, hook, mail, tg, pd)], hook.signing_secret


async def test_a_lagging_consumer_fires_once_per_channel_is_quiet_once_acked_and_resolves_once(
    alerting, nats_server, receiver, smtp_server
):
    nc, _, sub = await backlog(nats_server, 50)
    cluster = await alerting.cluster(nats_server)
    channel_ids, secret = await all_channels(alerting, receiver)
    rule = await alerting.rule(
        name="billing lags",
        severity="critical",
        runbook_url="https://runbooks.example/lag",
        scope={"stream": "ORDERS"},
        condition={"metric": "consumer.num_pending", "op": ">", "threshold": 10, "for_seconds": 20},
        channels=channel_ids,
        repeat_interval_seconds=30,
    )

    assert await alerting.collect(cluster, 0) == []  # pending
    assert await alerting.collect(cluster, 10) == []  # still pending: 10 s of 20
    page = await services.list_alerts(alerting.backends, alerting.ctx, state="pending")
    assert [a.target for a in page.items] == [
        {"cluster": "main", "stream": "ORDERS", "consumer": "billing"}
    ]
    queued = await alerting.collect(cluster, 20)  # 20 s: firing
    assert len(queued) == 5
    outcomes = await alerting.deliver(queued)
    assert [o.state for o in outcomes] == ["sent"] * 5

    alert = (await services.list_alerts(alerting.backends, alerting.ctx, state="firing")).items[0]
    assert alert.value == 50 and alert.threshold == 10
    # Slack: Block Kit with severity, target, value against threshold, links.
    (slack,) = receiver.on("/slack/")
    assert slack.method == "POST" and slack.path == "/slack/T000/B000/XXX"
    blocks = slack.json()["blocks"]
    text = str(blocks)
    assert "critical" in text and "ORDERS / billing" in text and "50 > 10" in text
    assert "https://runbooks.example/lag" in text
    assert (
        "https://jetdeck.example/orgs/acme/clusters/main/streams/ORDERS/consumers/billing" in text
    )
    # Webhook: Standard Webhooks headers, verified with the package's own verifier.
    (hook,) = receiver.on("/hook")
    body = Webhook(secret).verify(hook.body, hook.headers)
    assert body["type"] == "alert.firing"
    assert body["data"]["id"] == str(alert.id) and body["data"]["count"] == 1
    assert body["data"]["console_url"].startswith("https://jetdeck.example/orgs/acme/alerts")
    assert hook.headers["webhook-id"].startswith("msg_")
    # PagerDuty: a trigger whose dedup_key is the alert id.
    (pd,) = receiver.on("/pagerduty")
    event = pd.json()
    assert event["routing_key"] == ROUTING_KEY and event["event_action"] == "trigger"
    assert event["dedup_key"] == str(alert.id) and event["payload"]["severity"] == "critical"
    # Telegram: sendMessage to the chat.
    (tg,) = receiver.on("/telegram/")
    assert tg.path == f"/telegram/bot{TELEGRAM_TOKEN}/sendMessage"
    assert tg.json()["chat_id"] == "-1001234" and "billing lags" in tg.json()["text"]
    # Email: text and HTML.
    (mail,) = smtp_server.messages
    assert mail["To"] == "oncall@example.com" and "billing lags" in mail["Subject"]
    assert mail.get_body(("plain",)) is not None and mail.get_body(("html",)) is not None

    await services.acknowledge_alert(alerting.backends, alerting.ctx, alert.id, "on it")
    assert await alerting.collect(cluster, 60) == []  # 40 s after firing: no repeat when acked

    for msg in await sub.fetch(50, timeout=5):
        await msg.ack_sync()
    assert await alerting.collect(cluster, 70) == []  # false for the first time: not yet
    resolved = await alerting.collect(cluster, 80)  # false for a full cycle: resolved
    assert len(resolved) == 5
    assert [o.state for o in await alerting.deliver(resolved)] == ["sent"] * 5
    await nc.close()

    slack_resolved = receiver.on("/slack/")[1].json()
    assert "RESOLVED" in slack_resolved["text"] and "fired for 1m" in str(slack_resolved["blocks"])
    pd_resolve = receiver.on("/pagerduty")[1].json()
    assert pd_resolve["event_action"] == "resolve" and pd_resolve["dedup_key"] == str(alert.id)
    webhook_resolved = Webhook(secret).verify(
        receiver.on("/hook")[1].body, receiver.on("/hook")[1].headers
    )
    assert webhook_resolved["type"] == "alert.resolved"
    assert webhook_resolved["data"]["fired_for_seconds"] == 60
    assert len(smtp_server.messages) == 2 and len(receiver.on("/telegram/")) == 2

    detail = await services.get_alert(alerting.backends, alerting.ctx, alert.id)
    assert detail.state == "resolved" and detail.acknowledged is not None
    assert [e.kind for e in detail.events] == [
        "pending",
        "firing",
        "acknowledged",
        "clearing",
        "resolved",
    ]
    assert [d.event for d in detail.deliveries] == ["firing"] * 5 + ["resolved"] * 5
    assert rule.id == detail.rule.id


async def test_io_nats_monitor_metadata_on_a_real_cluster_fires_through_jsz(
    alerting, nats_cluster, receiver
):
    """The 3-node cluster is collected with one JSZ round (system credentials): the stream's
    and consumer's configs, metadata included, come with it."""
    nc = await nats_cluster.connect()
    js = nc.jetstream()
    await add_stream(
        js,
        config=StreamConfig(
            name="JOBS",
            subjects=["jobs.>"],
            num_replicas=3,
            metadata={"io.nats.monitor.peer-expect": "3", "io.nats.monitor.msgs-critical": "1"},
        ),
    )
    await settling(
        lambda: js.add_consumer(
            "JOBS",
            config=ConsumerConfig(
                durable_name="runner",
                metadata={"io.nats.monitor.unprocessed-critical": "5"},
            ),
        )
    )
    for _ in range(8):
        await settling(lambda: js.publish("jobs.run", b"x"))
    await nc.close()
    out = await register_cluster(
        alerting.backends,
        alerting.ctx,
        msgspec.convert(
            {
                "name": "prod",
                "servers": nats_cluster.servers,
                "auth": {
                    "type": "user_password",
                    "username": nats_cluster.user,
                    "password": nats_cluster.password,
                },
                "system_auth": {
                    "type": "user_password",
                    "username": nats_cluster.system_user,
                    "password": nats_cluster.system_password,
                },
            },
            ClusterIn,
        ),
    )
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    await alerting.rule(condition={"kind": "nats_monitor_metadata"}, channels=[str(hook.id)])

    queued = []
    for attempt in range(20):  # JSZ trails a just-made consumer by a moment
        queued = await alerting.collect((str(out.id), "prod"), attempt * 10)
        if queued:
            break
    await alerting.deliver(queued)

    (call,) = receiver.on("/hook")
    data = call.json()["data"]
    assert data["count"] == 1
    assert data["target"] == {"cluster": "prod", "stream": "JOBS", "consumer": "runner"}
    assert "io.nats.monitor.unprocessed-critical: 8 against 5" in data["detail"]
