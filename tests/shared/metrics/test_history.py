"""What the history says: rollups agree with raw samples, rates never go negative, a retried
cycle stores nothing twice, and a chart never gets more than ~1000 points."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared import errors
from shared.metrics.collector import collect_cluster
from shared.metrics.queries import (
    MAX_POINTS,
    SeriesQuery,
    choose_resolution,
    parse_series,
    read_series,
)
from shared.metrics.store import advance
from tests.shared.metrics.conftest import (
    ORG,
    ack_all,
    add_stream,
    cycle,
    jsz_agrees,
    publish,
    pull_subscribe,
    target_for,
)

DB = "jetdeck_test"


async def series(clickhouse, start, end, *, consumer=None, step=None, names=None, stream="EVENTS"):
    names = names or (
        ("num_pending", "num_ack_pending", "total_lag", "delivered_rate", "ack_rate")
        if consumer
        else ("messages", "ingest_rate", "consumers")
    )
    got = await read_series(
        clickhouse,
        SeriesQuery(ORG, "cluster-1", stream, consumer, tuple(names), start, end, step),
        10,
    )
    return got


async def test_rollups_hold_the_last_raw_value_of_every_minute_and_hour(
    nats_cluster, clickhouse, pool
) -> None:
    nc = await nats_cluster.connect()
    js = nc.jetstream()
    await add_stream(js, name="EVENTS", subjects=["events.>"], num_replicas=3)
    sub = await pull_subscribe(js, "events.>", "READER", "EVENTS")
    target = target_for(nats_cluster)
    for step in range(18):  # three minutes of 10-second cycles, traffic changing each cycle
        await publish(nc, "events.x", step % 4 + 1)
        for msg in await sub.fetch(step % 3 + 1, timeout=5):
            if step % 2:
                await msg.ack_sync()
        await collect_cluster(clickhouse, pool, target, cycle(step / 6))
    await nc.close()

    # Every kind of sample rolls up to the last raw value of each minute and hour: one stream,
    # one consumer, three servers, one account, over three minutes of one hour.
    for kind, labels, count, values in (
        ("stream", "stream", 1, ("messages", "ingested_total")),
        (
            "consumer",
            "stream, consumer",
            1,
            ("num_pending", "num_ack_pending", "delivered_total", "acked_total"),
        ),
        ("server", "server", 3, ("reachable", "rtt_ms", "storage_used", "streams", "messages")),
        ("account", "account", 1, ("storage_used", "streams", "consumers")),
    ):
        for value in values:
            for rollup, bucket in (("1m", "toStartOfMinute"), ("1h", "toStartOfHour")):
                raw = await clickhouse.query(
                    f"SELECT {labels}, {bucket}(ts) AS b, argMax({value}, ts) "
                    f"FROM {DB}.{kind}_samples GROUP BY {labels}, b ORDER BY {labels}, b"
                )
                rolled = await clickhouse.query(
                    f"SELECT {labels}, bucket, argMaxMerge({value}) "
                    f"FROM {DB}.{kind}_samples_{rollup} GROUP BY {labels}, bucket "
                    f"ORDER BY {labels}, bucket"
                )
                assert rolled == raw, (kind, value, rollup)
                assert len(raw) == count * (3 if rollup == "1m" else 1)
    # A server's worst RTT and lowest reachability in the bucket are kept beside the last value.
    worst = await clickhouse.query(
        f"SELECT server, toStartOfHour(ts) AS b, max(rtt_ms), min(reachable) "
        f"FROM {DB}.server_samples GROUP BY server, b ORDER BY server, b"
    )
    assert worst == await clickhouse.query(
        f"SELECT server, bucket, max(rtt_ms_max), min(reachable_min) "
        f"FROM {DB}.server_samples_1h GROUP BY server, bucket ORDER BY server, bucket"
    )
    assert [row[3] for row in worst] == [1, 1, 1]


async def test_rates_read_from_a_rollup_add_up_to_the_raw_rates(
    nats_cluster, clickhouse, pool
) -> None:
    nc = await nats_cluster.connect()
    js = nc.jetstream()
    await add_stream(js, name="EVENTS", subjects=["events.>"], num_replicas=3)
    target = target_for(nats_cluster)
    for step in range(24):
        await publish(nc, "events.x", (step * 7) % 5)
        await collect_cluster(clickhouse, pool, target, cycle(step / 6))
    await nc.close()
    start, end = cycle(0), cycle(4)

    raw = await series(clickhouse, start, end, step=10)
    minute = await series(clickhouse, start, end, step=60)

    assert (raw["step_seconds"], minute["step_seconds"]) == (10, 60)
    raw_rate = dict(raw["series"]["ingest_rate"])
    for t, rate in minute["series"]["ingest_rate"]:
        # The minute's rate times its 60 s equals what the raw rates ingested in that minute.
        # Its last sample is at :50, so the minute covers the previous :50 to this :50.
        minute_start = start + timedelta(seconds=_seconds_since(start, t))
        covered = [
            raw_rate[_iso(minute_start + timedelta(seconds=s))] * 10
            for s in range(0, 60, 10)
            if _iso(minute_start + timedelta(seconds=s)) in raw_rate
        ]
        assert rate * 60 == pytest.approx(sum(covered))
    messages = dict(raw["series"]["messages"])
    for t, value in minute["series"]["messages"]:
        assert value == messages[_iso(start + timedelta(seconds=_seconds_since(start, t) + 50))]


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds_since(start, iso: str) -> int:
    from datetime import datetime

    return int((datetime.fromisoformat(iso.replace("Z", "+00:00")) - start).total_seconds())


async def test_a_purge_and_recreated_consumer_or_stream_never_show_a_negative_rate(
    nats_cluster, clickhouse, pool
) -> None:
    target = target_for(nats_cluster)
    nc = await nats_cluster.connect()
    js = nc.jetstream()
    await add_stream(js, name="EVENTS", subjects=["events.>"], num_replicas=3)
    sub = await pull_subscribe(js, "events.>", "READER", "EVENTS")
    await publish(nc, "events.x", 50)
    await collect_cluster(clickhouse, pool, target, cycle(0))
    await ack_all(js, await sub.fetch(50, timeout=5), "EVENTS", "READER")
    await jsz_agrees(nats_cluster, "EVENTS", "READER", ack_floor_consumer_seq=50)
    await collect_cluster(clickhouse, pool, target, cycle(1))
    await js.purge_stream("EVENTS")
    await collect_cluster(clickhouse, pool, target, cycle(2))
    await js.delete_consumer("EVENTS", "READER")
    sub = await pull_subscribe(js, "events.>", "READER", "EVENTS")
    await publish(nc, "events.x", 3)
    await ack_all(js, await sub.fetch(3, timeout=5), "EVENTS", "READER")
    # No wait for JSZ here: right after a consumer is made again under the same name, its R3
    # state in NATS may settle one ack short for a while (seen: a minute). The check below
    # holds JetDeck to the figure NATS reported, whatever it is.
    await collect_cluster(clickhouse, pool, target, cycle(3))
    await js.delete_stream("EVENTS")
    await add_stream(js, name="EVENTS", subjects=["events.>"], num_replicas=3)
    await publish(nc, "events.x", 5)
    await collect_cluster(clickhouse, pool, target, cycle(4))
    await nc.close()

    stream = (await series(clickhouse, cycle(0), cycle(5), step=10))["series"]
    consumer = (await series(clickhouse, cycle(0), cycle(4), consumer="READER", step=10))["series"]

    assert [v for _, v in stream["messages"]] == [50, 50, 0, 3, 5]
    rates = [v for _, v in stream["ingest_rate"]]
    assert min(rates) >= 0
    # After the stream was recreated its 5 new messages count as ingested, not -48.
    assert rates[-1] * 60 == pytest.approx(5)
    for name in ("delivered_rate", "ack_rate"):
        assert min(v for _, v in consumer[name]) >= 0
    # The recreated consumer's acks in the last minute are its ack floor as NATS reported it
    # (3, or one short: see above), counted from zero, not from the old consumer's 50.
    reported = await clickhouse.query(
        f"SELECT ack_floor_consumer_seq FROM {DB}.consumer_samples "
        "WHERE consumer = 'READER' AND ts = {ts:DateTime}",
        {"ts": cycle(3)},
    )
    assert len(reported) == 1 and 1 <= reported[0][0] <= 3
    assert consumer["ack_rate"][-1][1] * 60 == pytest.approx(reported[0][0])


async def test_a_retried_collection_stores_no_sample_twice(nats_cluster, clickhouse, pool) -> None:
    nc = await nats_cluster.connect()
    js = nc.jetstream()
    await add_stream(js, name="EVENTS", subjects=["events.>"], num_replicas=3)
    await pull_subscribe(js, "events.>", "READER", "EVENTS")
    await publish(nc, "events.x", 10)
    target = target_for(nats_cluster)
    await collect_cluster(clickhouse, pool, target, cycle(0))
    first = await collect_cluster(clickhouse, pool, target, cycle(1))
    await publish(nc, "events.x", 10)  # NATS moved on before the retry
    await nc.close()

    retry = await collect_cluster(clickhouse, pool, target, cycle(1))

    assert sum(first.written.values()) > 0
    assert sum(retry.written.values()) == 0
    counts = [
        (await clickhouse.query(f"SELECT count() FROM {DB}.{table}"))[0][0]
        for table in ("stream_samples", "consumer_samples", "server_samples", "account_samples")
    ]
    assert counts == [2, 2, 6, 2]
    points = (await series(clickhouse, cycle(0), cycle(2), step=10))["series"]
    assert [v for _, v in points["messages"]] == [10, 10]
    assert [v for _, v in points["ingest_rate"]] == [0.0]
    # A read that ends within the second of the last sample shows it (bounds round up to
    # whole seconds: a chart opened just after a collection would otherwise miss it).
    within = await series(clickhouse, cycle(0), cycle(1) + timedelta(milliseconds=400), step=10)
    assert [v for _, v in within["series"]["messages"]] == [10, 10]


async def test_a_series_with_no_data_is_empty_not_an_error(clickhouse) -> None:
    got = await series(clickhouse, cycle(0), cycle(60), stream="NEVER_SEEN")
    assert got["series"] == {"messages": [], "ingest_rate": [], "consumers": []}


def test_resolution_keeps_every_series_under_a_thousand_points() -> None:
    hour, day, month, years = 3600, 86400, 30 * 86400, 2 * 365 * 86400
    assert choose_resolution(hour, None, 10) == choose_resolution(hour, 10, 10)
    assert (
        choose_resolution(hour, None, 10).table_suffix,
        choose_resolution(hour, None, 10).step_seconds,
    ) == ("", 10)
    assert (
        choose_resolution(day, None, 10).table_suffix,
        choose_resolution(day, None, 10).step_seconds,
    ) == ("_1m", 120)
    assert (
        choose_resolution(month, None, 10).table_suffix,
        choose_resolution(month, None, 10).step_seconds,
    ) == ("_1h", 3600)
    for span in (hour, day, month, years):
        for step in (None, 1, 60, 7200):
            chosen = choose_resolution(span, step, 10)
            assert span / chosen.step_seconds <= MAX_POINTS
    # A step finer than collection is collection's own interval.
    assert choose_resolution(600, 1, 10).step_seconds == 10


def test_an_unknown_series_name_is_invalid_input() -> None:
    with pytest.raises(errors.Invalid) as caught:
        parse_series("messages,num_pending", consumer=False)
    assert caught.value.code == "unknown_series"
    assert parse_series(None, consumer=True)[0] == "num_pending"


def test_a_counter_that_went_down_restarted_and_counts_from_zero() -> None:
    assert advance(None, None, 100, False) == 100
    assert advance(100, 100, 130, False) == 130
    assert advance(130, 130, 4, False) == 134  # recreated: 4 since the restart
    assert advance(134, 4, 6, True) == 140  # recreated and already past: `created` tells
