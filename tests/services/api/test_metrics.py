"""The metrics API on a real 3-node cluster: the numbers NATS reported, as series."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import nats

from shared.backends import Backends
from shared.metrics.collector import collect_cluster, cycle_time
from shared.metrics.targets import collection_target, enabled_cluster_ids
from tests.shared.metrics.conftest import (
    add_stream,
    jsz_agrees,
    publish,
    pull_subscribe,
    settled,
)


async def collect(settings: Any, ts: datetime | None = None) -> None:
    """One collection cycle for every registered cluster, as a worker would run it (with its
    own backends: the app's live on the test client's event loop)."""
    backends = Backends.open(settings)
    try:
        for cluster_id in await enabled_cluster_ids(backends):
            target = await collection_target(backends, cluster_id)
            assert target is not None and backends.clickhouse is not None
            await collect_cluster(
                backends.clickhouse,
                backends.nats,
                target,
                ts or cycle_time(10, time.time() + 70),
                backends.settings.metrics,
            )
    finally:
        await backends.close()


async def backlog_of_100_with_40_unacked(target: Any) -> None:
    nc = await nats.connect(target.servers, user=target.user, password=target.password)
    js = nc.jetstream()
    await add_stream(js, name="ORDERS", subjects=["orders.>"], num_replicas=3)
    await publish(nc, "orders.new", 100)
    sub = await pull_subscribe(js, "orders.>", "BILLING", "ORDERS")
    assert len(await sub.fetch(40, timeout=5)) == 40
    await settled(js, "ORDERS", "BILLING", pending=60)
    await jsz_agrees(target, "ORDERS", "BILLING", num_pending=60, num_ack_pending=40)
    await nc.close()


async def test_100_published_and_40_fetched_unacked_read_as_60_pending_and_40_ack_pending(
    settings, clickhouse, on_cluster, nats_cluster
) -> None:
    await backlog_of_100_with_40_unacked(nats_cluster)
    await collect(settings)

    response = await on_cluster.get(
        "/streams/ORDERS/consumers/BILLING/metrics",
        params={"to": _iso(datetime.now(UTC) + timedelta(minutes=3))},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["step_seconds"] == 10
    last = {name: points[-1][1] for name, points in body["series"].items() if points}
    assert last["num_pending"] == 60
    assert last["num_ack_pending"] == 40
    assert last["total_lag"] == 100
    assert last["time_lag_seconds"] >= 60
    stream = await on_cluster.get(
        "/streams/ORDERS/metrics",
        params={
            "series": "messages,consumers",
            "to": _iso(datetime.now(UTC) + timedelta(minutes=3)),
        },
    )
    assert stream.status_code == 200, stream.text
    assert stream.json()["series"]["messages"][-1][1] == 100
    assert stream.json()["series"]["consumers"][-1][1] == 1


async def test_a_long_range_is_served_from_a_rollup_under_a_thousand_points(
    settings, clickhouse, on_cluster, nats_cluster
) -> None:
    await backlog_of_100_with_40_unacked(nats_cluster)
    await collect(settings, cycle_time(10))
    now = datetime.now(UTC)

    response = await on_cluster.get(
        "/streams/ORDERS/consumers/BILLING/metrics",
        params={
            "series": "num_pending",
            "from": _iso(now - timedelta(days=30)),
            "to": _iso(now + timedelta(hours=1)),
            "step": "1m",
        },
    )

    assert response.status_code == 200, response.text
    assert response.json()["step_seconds"] == 3600
    assert [v for _, v in response.json()["series"]["num_pending"]] == [60]


async def test_a_series_without_data_is_empty_not_an_error(on_cluster) -> None:
    response = await on_cluster.get("/streams/NOTHING/metrics")
    assert response.status_code == 200, response.text
    assert response.json()["series"] == {
        "messages": [],
        "bytes": [],
        "ingest_rate": [],
        "consumers": [],
    }


async def test_an_unknown_series_or_a_bad_step_is_a_400(on_cluster) -> None:
    unknown = await on_cluster.get("/streams/S/metrics", params={"series": "num_pending"})
    bad_step = await on_cluster.get("/streams/S/metrics", params={"step": "soon"})
    backwards = await on_cluster.get(
        "/streams/S/metrics", params={"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    )
    assert (unknown.status_code, unknown.json()["code"]) == (400, "unknown_series")
    assert (bad_step.status_code, bad_step.json()["code"]) == (400, "invalid_step")
    assert (backwards.status_code, backwards.json()["code"]) == (400, "invalid_range")


async def test_an_unknown_cluster_is_a_404(client, auth_headers) -> None:
    response = await client.get(
        "/api/v1/orgs/acme/clusters/nope/streams/S/metrics", headers=await auth_headers("viewer")
    )
    assert response.status_code == 404


async def test_viewers_may_read_metrics_and_strangers_may_not(
    client, on_cluster, auth_headers, accounts
) -> None:
    path = on_cluster.base + "/streams/S/metrics"
    viewer = await client.get(path, headers=await auth_headers("viewer"))
    anonymous = await client.get(path)
    other_org = await client.get(path, headers=await auth_headers("owner", org="other"))
    assert viewer.status_code == 200
    assert anonymous.status_code == 401
    assert other_org.status_code == 404


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
