"""Evaluation rules on hand-made cycles: silences, repeats, inhibition while a cluster is
unreachable, vanished targets, idempotence per cycle, grouping, io.nats.monitor metadata."""

from __future__ import annotations

from typing import Any

from shared.alerts import services
from shared.alerts.schemas import SilenceIn, SilenceMatchers
from shared.db.base import utcnow
from tests.shared.alerts.conftest import consumer, stream

LAG = {"metric": "consumer.num_pending", "op": ">", "threshold": 10, "for_seconds": 0}


async def hook_rule(alerting: Any, receiver: Any, **fields: Any) -> tuple[Any, Any]:
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    rule = await alerting.rule(condition=LAG, channels=[str(hook.id)], **fields)
    return hook, rule


async def test_a_silence_lets_the_alert_fire_but_notifies_no_one(alerting, receiver):
    cluster = await alerting.cluster()
    await hook_rule(alerting, receiver)
    await services.create_silence(
        alerting.backends,
        alerting.ctx,
        SilenceIn(
            matchers=SilenceMatchers(stream="ORD*"),
            ends_at=utcnow().replace(year=utcnow().year + 1),
            comment="maintenance",
        ),
    )
    lagging = alerting.collection(cluster, consumers=[consumer("ORDERS", "c1", pending=50)])

    assert await alerting.evaluate(cluster, 0, lagging) == []
    (alert,) = (await services.list_alerts(alerting.backends, alerting.ctx)).items
    assert alert.state == "firing" and alert.silenced
    detail = await services.get_alert(alerting.backends, alerting.ctx, alert.id)
    assert [e.kind for e in detail.events] == ["pending", "firing", "silenced"]
    assert receiver.requests == []


async def test_an_unacknowledged_alert_repeats_after_the_repeat_interval_only(alerting, receiver):
    cluster = await alerting.cluster()
    await hook_rule(alerting, receiver, repeat_interval_seconds=60)
    lagging = alerting.collection(cluster, consumers=[consumer("ORDERS", "c1", pending=50)])

    assert len(await alerting.evaluate(cluster, 0, lagging)) == 1
    assert await alerting.evaluate(cluster, 30, lagging) == []
    repeat = await alerting.evaluate(cluster, 60, lagging)
    assert len(repeat) == 1
    await alerting.deliver(repeat)
    assert receiver.on("/hook")[0].json()["type"] == "alert.repeat"


async def test_300_lagging_consumers_under_one_rule_are_one_message_per_channel(
    alerting, receiver, smtp_server
):
    cluster = await alerting.cluster()
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    slack = await alerting.channel("slack", webhook_url=f"{receiver.url}/slack/x")
    mail = await alerting.channel("email", to=["oncall@example.com"])
    await alerting.rule(condition=LAG, channels=[str(hook.id), str(slack.id), str(mail.id)])
    lagging = alerting.collection(
        cluster, consumers=[consumer("ORDERS", f"c{i:03}", pending=50) for i in range(300)]
    )

    queued = await alerting.evaluate(cluster, 0, lagging)
    assert [o.state for o in await alerting.deliver(queued)] == ["sent"] * 3
    (hook_call,) = receiver.on("/hook")
    data = hook_call.json()["data"]
    assert data["count"] == 300 and len(data["alerts"]) == 20  # the first N, and the count
    (slack_call,) = receiver.on("/slack/")
    assert "300 targets" in slack_call.json()["text"] and "and 280 more" in str(slack_call.json())
    (mail_msg,) = smtp_server.messages
    assert "and 280 more" in mail_msg.get_body(("plain",)).get_content()
    page = await services.list_alerts(alerting.backends, alerting.ctx, state="firing", limit=1000)
    assert page.total == 300


async def test_an_unreachable_cluster_neither_fires_nor_resolves_its_stream_alerts(
    alerting, receiver
):
    cluster = await alerting.cluster()
    hook, _ = await hook_rule(alerting, receiver, name="lag")
    await alerting.rule(
        name="down",
        severity="critical",
        condition={"metric": "cluster.unreachable", "op": "==", "threshold": 1},
        channels=[str(hook.id)],
    )
    lagging = alerting.collection(
        cluster,
        consumers=[consumer("ORDERS", "c1", pending=50)],
    )
    assert len(await alerting.evaluate(cluster, 0, lagging)) == 1  # the lag alert fires

    down = await alerting.evaluate(cluster, 10, None)
    down2 = await alerting.evaluate(cluster, 20, None)
    await alerting.deliver(down + down2)
    (call,) = receiver.on("/hook")  # only the cluster's own alert notified
    assert call.json()["data"]["rule"]["name"] == "down"
    states = {
        a.rule.name: a.state
        for a in (await services.list_alerts(alerting.backends, alerting.ctx)).items
    }
    assert states == {"lag": "firing", "down": "firing"}  # the lag alert did not resolve

    # Back, and still lagging: the cluster alert resolves (after a full cycle), lag stays.
    await alerting.evaluate(cluster, 30, lagging)
    back = await alerting.evaluate(cluster, 40, lagging)
    await alerting.deliver(back)
    assert [r.json()["type"] for r in receiver.on("/hook")] == ["alert.firing", "alert.resolved"]
    states = {
        a.rule.name: a.state
        for a in (await services.list_alerts(alerting.backends, alerting.ctx)).items
    }
    assert states == {"lag": "firing", "down": "resolved"}


async def test_a_vanished_consumer_resolves_its_alert_with_a_notice_that_says_so(
    alerting, receiver
):
    cluster = await alerting.cluster()
    await hook_rule(alerting, receiver, notify_resolved=False)
    lagging = alerting.collection(
        cluster, consumers=[consumer("ORDERS", "c1", pending=50), consumer("ORDERS", "c2")]
    )
    await alerting.deliver(await alerting.evaluate(cluster, 0, lagging))
    gone = alerting.collection(cluster, consumers=[consumer("ORDERS", "c2")])
    queued = await alerting.evaluate(cluster, 10, gone)
    await alerting.deliver(queued)

    (alert,) = (await services.list_alerts(alerting.backends, alerting.ctx)).items
    assert alert.state == "resolved" and alert.resolved_reason == "target_vanished"
    notice = receiver.on("/hook")[1].json()
    assert notice["type"] == "alert.resolved"
    assert notice["data"]["resolved_reason"] == "target_vanished"


async def test_evaluating_the_same_cycle_twice_changes_nothing(alerting, receiver):
    cluster = await alerting.cluster()
    await hook_rule(alerting, receiver)
    lagging = alerting.collection(cluster, consumers=[consumer("ORDERS", "c1", pending=50)])
    first = await alerting.evaluate(cluster, 0, lagging)
    again = await alerting.evaluate(cluster, 0, lagging)
    older = await alerting.evaluate(cluster, -10, lagging)
    assert (len(first), again, older) == (1, [], [])
    detail = await services.get_alert(
        alerting.backends,
        alerting.ctx,
        (await services.list_alerts(alerting.backends, alerting.ctx)).items[0].id,
    )
    assert [e.kind for e in detail.events] == ["pending", "firing"]


async def test_io_nats_monitor_metadata_thresholds_fire_on_streams_and_consumers(
    alerting, receiver
):
    cluster = await alerting.cluster()
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    await alerting.rule(
        name="natscli checks",
        severity="critical",
        condition={"kind": "nats_monitor_metadata"},
        channels=[str(hook.id)],
    )
    meta_c = {
        "io.nats.monitor.unprocessed-critical": "100",
        "io.nats.monitor.outstanding-ack-critical": "5",
    }
    collection = alerting.collection(
        cluster,
        streams=[
            stream("EMPTY", messages=3, metadata={"io.nats.monitor.msgs-critical": "10"}),
            stream("FULL", messages=500, metadata={"io.nats.monitor.msgs-critical": "10"}),
            stream("PLAIN", messages=0),
        ],
        consumers=[
            consumer("FULL", "slow", pending=150, num_ack_pending=2, metadata=meta_c),
            consumer("FULL", "fine", pending=3, metadata=meta_c),
            consumer("FULL", "unwatched", pending=10_000),
        ],
    )
    queued = await alerting.evaluate(cluster, 0, collection)
    await alerting.deliver(queued)

    firing = {
        tuple(a.target.get(k, "") for k in ("stream", "consumer")): a
        for a in (await services.list_alerts(alerting.backends, alerting.ctx)).items
    }
    assert set(firing) == {("EMPTY", ""), ("FULL", "slow")}
    assert (
        "io.nats.monitor.unprocessed-critical: 150 against 100" in firing[("FULL", "slow")].detail
    )
    assert firing[("EMPTY", "")].value == 3 and firing[("EMPTY", "")].threshold == 10
    (call,) = receiver.on("/hook")
    assert call.json()["data"]["count"] == 2


async def test_rates_come_from_the_previous_cycle_and_a_named_stream_that_disappears_is_missing(
    alerting, receiver
):
    cluster = await alerting.cluster()
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    for name, condition, scope in (
        ("fast", {"metric": "stream.ingest_rate", "op": ">", "threshold": 5}, {}),
        (
            "slow drain",
            {"metric": "consumer.time_to_drain_seconds", "op": ">", "threshold": 60},
            {},
        ),
        ("gone", {"metric": "stream.missing", "op": "==", "threshold": 1}, {"stream": "KEEP"}),
    ):
        await alerting.rule(name=name, condition=condition, scope=scope, channels=[str(hook.id)])

    def cycle(last_seq: int, backlog: int, keep: bool) -> Any:
        streams = [stream("ORDERS", messages=last_seq, last_seq=last_seq)]
        if keep:
            streams.append(stream("KEEP", messages=1))
        return alerting.collection(
            cluster, streams=streams, consumers=[consumer("ORDERS", "c1", pending=backlog)]
        )

    assert await alerting.evaluate(cluster, 0, cycle(100, 1000, True)) == []  # no rate yet
    # 10 s later: 200 more messages (20/s), the backlog shrank by 100 (10/s: 90 s to drain).
    await alerting.evaluate(cluster, 10, cycle(300, 900, False))
    firing = {
        a.rule.name: a.value
        for a in (await services.list_alerts(alerting.backends, alerting.ctx)).items
    }
    assert firing == {"fast": 20.0, "slow drain": 90.0, "gone": 1.0}
