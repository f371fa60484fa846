"""Defects a review found in collection and series: each reproduced, then fixed.

Two accounts' same-named streams stay apart; an account lookup that failed is asked again
later; a filtered consumer's time lag reads its own first message; a slow consumer leader is
waited for instead of a follower's figures (num_pending 0) being recorded."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import msgspec
from nats.js.api import AckPolicy, ConsumerConfig

from shared.metrics import store
from shared.metrics.collector import collect_cluster, cycle_time
from shared.metrics.queries import SeriesQuery, read_series
from shared.metrics.reports import StreamState
from shared.metrics.samples import Collection, StreamSample
from tests.shared.metrics.conftest import (
    ORG,
    add_stream,
    cycle,
    jsz_agrees,
    publish,
    pull_subscribe,
    settled,
    target_for,
)


def _stream(account: str, messages: int, last_seq: int) -> StreamSample:
    return StreamSample.from_report(
        account, "ORDERS", None, StreamState(messages=messages, last_seq=last_seq)
    )


async def test_two_accounts_same_named_streams_are_never_merged_into_one_series(
    clickhouse,
) -> None:
    # APP's ORDERS grows by 10 a cycle; OTHER's ORDERS (another account) holds 1000 and
    # stops being collected after two cycles (say the credentials moved to APP).
    for minute, (app, other) in enumerate([(10, 1000), (20, 1000), (30, None)]):
        collection = Collection(ORG, "cluster-1", cycle(minute))
        collection.streams.append(_stream("APP", app, app))
        if other is not None:
            collection.streams.append(_stream("OTHER", other, other))
        await store.write_collection(clickhouse, collection)

    query = SeriesQuery(
        ORG, "cluster-1", "ORDERS", None, ("messages", "ingest_rate"), cycle(0), cycle(3), 60
    )
    latest = await read_series(clickhouse, query, 10)
    assert [v for _, v in latest["series"]["messages"]] == [10, 20, 30]
    assert [v for _, v in latest["series"]["ingest_rate"]] == [10 / 60, 10 / 60]

    query.account = "OTHER"
    other = await read_series(clickhouse, query, 10)
    assert [v for _, v in other["series"]["messages"]] == [1000, 1000]


async def test_an_account_lookup_that_failed_is_asked_again_later_not_never(
    nats_cluster, clickhouse, pool, monkeypatch
) -> None:
    from shared.metrics import collector

    asked: list[str] = []
    answers: list[str | None] = [None, "APP"]  # a timeout first, then the answer

    async def flaky(client) -> str | None:
        asked.append(client.label)
        return answers[len(asked) - 1]

    monkeypatch.setattr(collector, "connected_account", flaky)
    target = target_for(nats_cluster, system=False, cluster_id="flaky")
    first = await collect_cluster(clickhouse, pool, target, cycle(0))
    second = await collect_cluster(clickhouse, pool, target, cycle(1))  # within the back-off
    monkeypatch.setattr(collector, "ACCOUNT_RETRY_SECONDS", 0.0)
    third = await collect_cluster(clickhouse, pool, target, cycle(2))
    fourth = await collect_cluster(clickhouse, pool, target, cycle(3))

    assert asked == ["flaky", "flaky"]  # not every cycle, and not never: once more, then kept
    assert (first.source, second.source, third.source, fourth.source) == ("list",) * 4
    labels = await clickhouse.query(
        "SELECT ts, account FROM jetdeck_test.account_samples WHERE cluster_id = 'flaky' "
        "ORDER BY ts"
    )
    assert [a for _, a in labels] == ["", "", "APP", "APP"]


async def _filtered_backlog(nats_server) -> dict[int, datetime]:
    """Stream EV: ev.a (1), ev.a (2), ev.c (3), ev.b (4), ev.b (5); consumers F (ev.b) and
    M (ev.b, ev.c), nothing acknowledged. Returns each sequence's stored time."""
    nc = await nats_server.connect()
    try:
        js = nc.jetstream()
        await add_stream(js, name="EV", subjects=["ev.>"], num_replicas=1)
        for subject in ("ev.a", "ev.a", "ev.c", "ev.b", "ev.b"):
            await publish(nc, subject, 1)
        await js.add_consumer(
            "EV",
            ConsumerConfig(durable_name="F", filter_subject="ev.b", ack_policy=AckPolicy.EXPLICIT),
        )
        await js.add_consumer(
            "EV",
            ConsumerConfig(
                durable_name="M", filter_subjects=["ev.b", "ev.c"], ack_policy=AckPolicy.EXPLICIT
            ),
        )
        times = {}
        for seq in range(1, 6):
            info = await nc.request("$JS.API.STREAM.MSG.GET.EV", msgspec.json.encode({"seq": seq}))
            times[seq] = msgspec.convert(
                msgspec.json.decode(info.data)["message"]["time"], datetime
            )
        return times
    finally:
        await nc.close()


async def _lags(clickhouse, ts: datetime) -> dict[str, float]:
    return dict(
        await clickhouse.query(
            "SELECT consumer, time_lag_seconds FROM jetdeck_test.consumer_samples "
            "WHERE ts = toDateTime({ts:UInt32}, 'UTC')",
            {"ts": int(ts.timestamp())},
        )
    )


async def test_a_filtered_consumers_time_lag_is_the_age_of_its_own_first_message(
    nats_server, clickhouse, pool
) -> None:
    times = await _filtered_backlog(nats_server)
    ts = cycle_time(10, time.time() + 70)
    for system in (True, False):  # JSZ and listing
        target = target_for(nats_server, system=system, cluster_id=f"lag-{system}")
        result = await collect_cluster(clickhouse, pool, target, ts)
        lags = await _lags(clickhouse, ts)
        await clickhouse.command("TRUNCATE TABLE jetdeck_test.consumer_samples")

        assert lags["F"] == (ts - times[4]).total_seconds()  # ev.b first at 4, not seq 1
        assert lags["M"] == (ts - times[3]).total_seconds()  # ev.c at 3 comes before ev.b
        # The filters came with the report itself (JSZ asked with configs, CONSUMER.LIST):
        # no CONSUMER.INFO was needed to learn them.
        assert result.collection is not None
        filters = {c.consumer: c.filters for c in result.collection.consumers}
        assert filters == {"F": ("ev.b",), "M": ("ev.b", "ev.c")}


async def test_a_slow_consumer_leader_is_waited_for_and_a_follower_never_records_zero_pending(
    nats_cluster, clickhouse, pool
) -> None:
    nc = await nats_cluster.connect()
    try:
        js = nc.jetstream()
        await add_stream(js, name="SLOW", subjects=["slow.>"], num_replicas=3)
        await publish(nc, "slow.x", 30)
        await pull_subscribe(js, "slow.>", "READER", "SLOW")
        await settled(js, "SLOW", "READER", pending=30)
        await jsz_agrees(nats_cluster, "SLOW", "READER", num_pending=30)
        leader = (await js.consumer_info("SLOW", "READER")).cluster.leader
    finally:
        await nc.close()
    node = next(n for n in nats_cluster.nodes if n.name == leader)
    pid = node.process.pid
    target = target_for(nats_cluster)
    await collect_cluster(clickhouse, pool, target, cycle(0))  # learns the account

    # The consumer leader answers JSZ 0.8 s late (stopped, then continued): more than the
    # old 0.25 s quiet gap after the followers' replies, well within the round's timeout.
    os.kill(pid, signal.SIGSTOP)
    asyncio.get_running_loop().call_later(0.8, os.kill, pid, signal.SIGCONT)
    try:
        result = await collect_cluster(clickhouse, pool, target, cycle(1))
    finally:
        os.kill(pid, signal.SIGCONT)

    servers = await clickhouse.query(
        "SELECT server, reachable FROM jetdeck_test.server_samples "
        "WHERE ts = toDateTime({ts:UInt32}, 'UTC') ORDER BY server",
        {"ts": int(cycle(1).timestamp())},
    )
    assert result.source == "jsz" and servers == [("n1", 1), ("n2", 1), ("n3", 1)]
    rows = await clickhouse.query(
        "SELECT num_pending FROM jetdeck_test.consumer_samples "
        "WHERE consumer = 'READER' AND ts = toDateTime({ts:UInt32}, 'UTC')",
        {"ts": int(cycle(1).timestamp())},
    )
    assert rows == [(30,)]


async def test_a_consumer_whose_leader_never_answered_gets_no_sample_rather_than_zero() -> None:
    from shared.metrics.collector import apply_jsz
    from tests.shared.metrics.test_leaders import _reply

    collection = Collection("org", "cluster", datetime.now(UTC) - timedelta(seconds=1))
    # n1 leads; only the followers n2 and n3 answered.
    apply_jsz(collection, [(_reply("n2", "n1", 2), 0.001), (_reply("n3", "n1", 2), 0.001)])

    assert collection.consumers == []
