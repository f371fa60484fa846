"""Collection through the workers: the scheduler's job fans out one message per enabled
cluster, a cluster still being collected is not enqueued again, a cluster disabled meanwhile is
not collected, and the actor writes what NATS reports."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import dramatiq
import pytest
import redis.asyncio as aioredis

from services.workers.collection import INFLIGHT_KEY, enqueue_collections, release
from services.workers.scheduler import collection_cycle
from shared.backends import Backends
from shared.metrics.own import exposition
from shared.metrics.queries import SeriesQuery, read_series
from tests.fixtures.jetstream import ORG_PATH


@pytest.fixture
def collector_env(monkeypatch, settings):
    """The worker's own backends (read from the environment) on this test's services."""
    from services.workers import context
    from shared.config import get_settings

    for name, value in {
        "JETDECK_REDIS_URL": settings.redis.url,
        "JETDECK_DATABASE_URL": settings.database.url,
        "JETDECK_CLICKHOUSE_URL": settings.clickhouse.url,
        "JETDECK_CLICKHOUSE_DATABASE": settings.clickhouse.database,
        "JETDECK_ENCRYPTION_KEY": settings.app.encryption_key,
        "JETDECK_SECRET_KEY": settings.app.secret_key,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    context._backends = None
    yield settings
    get_settings.cache_clear()
    context._backends = None


class Enqueued(dramatiq.Middleware):
    """Notes every message the broker enqueues, as (actor, args)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, tuple[Any, ...]]] = []

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: Any) -> None:
        self.messages.append((message.actor_name, tuple(message.args)))


@pytest.fixture
def enqueued(stub_broker: dramatiq.Broker) -> Any:
    recorder = Enqueued()
    stub_broker.add_middleware(recorder)
    yield recorder
    stub_broker.middleware.remove(recorder)


def run_queued(broker: Any) -> None:
    """Run every queued message (and those they enqueue) on a real Dramatiq worker."""
    from dramatiq.asyncio import get_event_loop_thread

    from services.workers.context import close_worker_backends

    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    try:
        broker.join("default", fail_fast=True)
        worker.join()
    finally:
        loop = get_event_loop_thread()
        if loop is not None:  # close NATS connections on the loop that opened them
            loop.run_coroutine(close_worker_backends())
        worker.stop()


async def test_a_cluster_still_being_collected_is_not_enqueued_again(stub_broker, redis_url):
    client = aioredis.Redis.from_url(redis_url)
    sent: list[tuple[str, int]] = []

    def send(cluster_id: str, cycle: int) -> None:
        sent.append((cluster_id, cycle))

    first = await enqueue_collections(client, ["a", "b"], 100, 10, send)
    second = await enqueue_collections(client, ["a", "b"], 110, 10, send)
    await release(client, "a", 100)  # a's collection finished
    third = await enqueue_collections(client, ["a", "b"], 120, 10, send)
    ttl = await client.ttl(INFLIGHT_KEY + "b")
    await client.aclose()

    assert (first, second, third) == (["a", "b"], [], ["a"])
    assert sent == [("a", 100), ("b", 100), ("a", 120)]
    assert 0 < ttl <= 60  # a crashed collection blocks its cluster for a bounded time


async def test_a_late_collection_does_not_release_a_newer_ones_claim(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    await enqueue_collections(client, ["a"], 100, 10, lambda *_: None)
    await release(client, "a", 90)  # an older cycle's run ending late
    still = await client.get(INFLIGHT_KEY + "a")
    await client.aclose()
    assert still == b"100"


def test_the_scheduler_enqueues_collections_every_collect_interval(monkeypatch, redis_url):
    from services.workers.scheduler import Scheduler, standard_jobs
    from shared.config import get_settings

    monkeypatch.setenv("JETDECK_COLLECT_INTERVAL", "15")
    get_settings.cache_clear()
    try:
        scheduler = standard_jobs(Scheduler(redis_url))
        job = scheduler.scheduler.get_job("collect-metrics")
    finally:
        get_settings.cache_clear()
    assert job is not None
    assert job.trigger.interval.total_seconds() == 15
    assert collection_cycle(15, now=1_000_007.5) == 1_000_005


async def test_the_workers_collect_every_registered_cluster_into_clickhouse(
    stub_broker, collector_env, clickhouse, register_cluster, nats_cluster, auth_headers
) -> None:
    from services.workers.actors import schedule_collections

    api = await register_cluster(nats_cluster, "prod", system=True)
    await api.create_stream("ORDERS")
    cycle = collection_cycle(10)

    schedule_collections.send(cycle)
    run_queued(stub_broker)  # the fan-out, then the collection it enqueued

    rows = await clickhouse.query(
        "SELECT stream, toUnixTimestamp(ts) FROM jetdeck_test.stream_samples"
    )
    assert rows == [("ORDERS", cycle)]
    client = aioredis.Redis.from_url(collector_env.redis.url)
    inflight = await client.keys(INFLIGHT_KEY + "*")
    await client.aclose()
    assert inflight == []  # released when done
    text = exposition(collector_env.redis.url).decode()
    assert 'jetdeck_collections_total{cluster="prod"' in text, text
    assert "jetdeck_queue_depth" in text


async def test_an_unreachable_cluster_is_collected_as_unreachable_without_holding_others(
    stub_broker,
    collector_env,
    clickhouse,
    register_cluster,
    nats_cluster,
    client,
    auth_headers,
) -> None:
    from services.embedded.process import free_port
    from services.workers.actors import schedule_collections

    await register_cluster(nats_cluster, "prod", system=True)
    body = {
        "name": "gone",
        "servers": [f"nats://127.0.0.1:{free_port()}"],
        "auth": {"type": "none"},
    }
    created = await client.post(
        "/api/v1/orgs/acme/clusters", json=body, headers=await auth_headers("admin")
    )
    assert created.status_code == 201, created.text

    schedule_collections.send(collection_cycle(10))
    run_queued(stub_broker)

    rows = await clickhouse.query(
        "SELECT c, max(reachable) FROM (SELECT cluster_id AS c, reachable "
        "FROM jetdeck_test.server_samples) GROUP BY c"
    )
    assert sorted(r[1] for r in rows) == [0, 1]
    text = exposition(collector_env.redis.url).decode()
    assert 'jetdeck_collection_errors_total{cluster="gone"' in text, text


def _recent() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(minutes=1)


async def test_the_collected_series_can_be_read_back_for_the_registered_cluster(
    stub_broker, collector_env, clickhouse, register_cluster, nats_cluster
) -> None:
    from services.workers.actors import collect_metrics
    from shared.metrics.targets import enabled_cluster_ids

    api = await register_cluster(nats_cluster, "prod", system=True)
    await api.create_stream("ORDERS")
    (cluster_id,) = await enabled_cluster_ids(Backends.open(collector_env))
    collect_metrics.send(cluster_id, collection_cycle(10, time.time()))
    run_queued(stub_broker)

    start, end = _recent()
    org_id = (await clickhouse.query("SELECT any(org_id) FROM jetdeck_test.stream_samples"))[0][0]
    got = await read_series(
        clickhouse, SeriesQuery(org_id, cluster_id, "ORDERS", None, ("messages",), start, end), 10
    )
    assert [v for _, v in got["series"]["messages"]] == [0]


async def _cluster_id(client: Any, headers: dict[str, str], name: str) -> str:
    response = await client.get(f"{ORG_PATH}/{name}", headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def test_the_fan_out_enqueues_collections_for_enabled_clusters_only(
    stub_broker, enqueued, collector_env, clickhouse, register_cluster, nats_cluster, client
) -> None:
    from services.workers.actors import schedule_collections

    prod = await register_cluster(nats_cluster, "prod", system=True)
    await register_cluster(nats_cluster, "paused", system=True)
    switched = await client.patch(f"{ORG_PATH}/paused", json={"enabled": False}, headers=prod.admin)
    assert switched.status_code == 200, switched.text
    prod_id = await _cluster_id(client, prod.admin, "prod")
    cycle = collection_cycle(10)

    schedule_collections.send(cycle)
    run_queued(stub_broker)

    collections = [args for actor, args in enqueued.messages if actor == "collect_metrics"]
    assert collections == [(prod_id, cycle)]
    rows = await clickhouse.query("SELECT DISTINCT cluster_id FROM jetdeck_test.server_samples")
    assert rows == [(prod_id,)]


async def test_a_cluster_disabled_after_its_collection_was_enqueued_is_not_collected(
    stub_broker, collector_env, clickhouse, register_cluster, nats_cluster, client
) -> None:
    from services.workers.actors import collect_metrics

    api = await register_cluster(nats_cluster, "prod", system=True)
    await api.create_stream("ORDERS")
    cluster_id = await _cluster_id(client, api.admin, "prod")
    redis = aioredis.Redis.from_url(collector_env.redis.url)
    cycle = collection_cycle(10)
    sent = await enqueue_collections(redis, [cluster_id], cycle, 10, collect_metrics.send)
    assert sent == [cluster_id]

    switched = await client.patch(f"{ORG_PATH}/prod", json={"enabled": False}, headers=api.admin)
    assert switched.status_code == 200, switched.text
    run_queued(stub_broker)

    samples = await clickhouse.query(
        "SELECT (SELECT count() FROM jetdeck_test.stream_samples), "
        "(SELECT count() FROM jetdeck_test.server_samples)"
    )
    inflight = await redis.get(INFLIGHT_KEY + cluster_id)
    assert samples == [(0, 0)]
    assert inflight is None  # its claim is released, so enabling it again collects next cycle
    assert 'cluster="prod"' not in exposition(collector_env.redis.url).decode()

    await client.patch(f"{ORG_PATH}/prod", json={"enabled": True}, headers=api.admin)
    later = cycle + 10
    await enqueue_collections(redis, [cluster_id], later, 10, collect_metrics.send)
    await redis.aclose()
    run_queued(stub_broker)
    rows = await clickhouse.query(
        "SELECT stream, toUnixTimestamp(ts) FROM jetdeck_test.stream_samples"
    )
    assert rows == [("ORDERS", later)]


class ClaimAfterEachAttempt(dramatiq.Middleware):
    """Reads a cluster's in-flight claim after each `collect_metrics` attempt."""

    def __init__(self, redis_url: str, cluster_id: str) -> None:
        import redis as sync_redis

        self.client = sync_redis.Redis.from_url(redis_url)
        self.key = INFLIGHT_KEY + cluster_id
        self.seen: list[bytes | None] = []

    def after_process_message(self, broker: Any, message: Any, **_: Any) -> None:
        if message.actor_name == "collect_metrics":
            self.seen.append(cast(bytes | None, self.client.get(self.key)))


async def test_a_collection_awaiting_its_retry_keeps_its_claim_until_none_follows(
    stub_broker, collector_env, monkeypatch
) -> None:
    from dramatiq.asyncio import get_event_loop_thread

    from services.workers import actors
    from services.workers.context import close_worker_backends
    from shared.errors import Unavailable

    async def database_down(*_: Any) -> None:
        raise Unavailable("database down")

    monkeypatch.setattr(actors, "collection_target", database_down)
    recorder = ClaimAfterEachAttempt(collector_env.redis.url, "c1")
    stub_broker.add_middleware(recorder)
    redis = aioredis.Redis.from_url(collector_env.redis.url)
    cycle = collection_cycle(10)

    def send(cluster_id: str, cycle: int) -> None:
        actors.collect_metrics.send_with_options(
            args=(cluster_id, cycle), max_retries=1, min_backoff=10, max_backoff=20
        )

    try:
        assert await enqueue_collections(redis, ["c1"], cycle, 10, send) == ["c1"]
        worker = dramatiq.Worker(stub_broker, worker_timeout=100)
        worker.start()
        try:
            stub_broker.join("default", fail_fast=False)  # the attempt, then its retry
            worker.join()
        finally:
            loop = get_event_loop_thread()
            if loop is not None:
                loop.run_coroutine(close_worker_backends())
            worker.stop()
        # A fan-out meanwhile would skip the cluster: its retry is still pending.
        claimed = await enqueue_collections(redis, ["c1"], cycle + 10, 10, lambda *_: None)
    finally:
        stub_broker.middleware.remove(recorder)
        recorder.client.close()
        await redis.aclose()
    assert recorder.seen == [str(cycle).encode(), None]  # held for the retry, then released
    assert claimed == ["c1"]  # the last attempt failed for good: free again
