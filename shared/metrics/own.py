"""JetDeck's own figures for `GET /metrics` (Prometheus text format, prometheus-client).

Requests are counted in the process that serves them. Collections run in worker processes,
so each run leaves its figures in Redis (one hash per cluster) and the endpoint reads them at
scrape time, together with the Dramatiq queue depth: every API replica reports the same
cluster-wide figures, whichever worker did the work.

A cluster's hash lapses a week after its last run. So that a scrape never scans the keyspace,
each run also puts the cluster in one sorted set scored by when its hash lapses: a scrape
reads the members not yet lapsed (one per cluster) and their hashes, in two round trips. A
worker killed mid-collection records nothing, so it leaves nothing behind either.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

RUN_KEY = "jetdeck:metrics:collect:"
# Sorted set: cluster id -> the unix time its RUN_KEY hash lapses. Outside RUN_KEY's prefix.
RUN_INDEX = "jetdeck:metrics:collections"
QUEUES = ("default", "default.DQ")  # waiting now, and retries waiting for their delay
STATS_TTL = 7 * 86400.0

registry = CollectorRegistry(auto_describe=True)
http_requests = Counter(
    "jetdeck_http_requests",
    "HTTP requests served, by method, route and status class.",
    ["method", "route", "status"],
    registry=registry,
)
http_duration = Histogram(
    "jetdeck_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    registry=registry,
)


async def record_collection(
    client: aioredis.Redis,
    *,
    cluster_id: str,
    cluster_name: str,
    org_id: str,
    duration: float,
    ok: bool,
    requests: int,
    keep_for: float = STATS_TTL,
) -> None:
    """Leave one collection run's figures where `/metrics` finds them, for `keep_for` seconds
    after the cluster's latest run."""
    key = RUN_KEY + cluster_id
    now = time.time()
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(
            key,
            mapping={
                "cluster": cluster_name,
                "org": org_id,
                "last_duration": duration,
                "last_ok": int(ok),
                "last_requests": requests,
            },
        )
        pipe.hincrby(key, "runs", 1)
        pipe.hincrbyfloat(key, "duration_sum", duration)
        if not ok:
            pipe.hincrby(key, "errors", 1)
        pipe.pexpire(key, int(keep_for * 1000))
        pipe.zadd(RUN_INDEX, {cluster_id: now + keep_for})
        pipe.zremrangebyscore(RUN_INDEX, "-inf", now)  # clusters whose figures lapsed
        await pipe.execute()


def collection_runs(client: redis.Redis) -> list[tuple[str, dict[str, str]]]:
    """(cluster id, figures) of every cluster whose figures have not lapsed: two round trips
    whatever else Redis holds. A hash gone before its time (deleted, evicted) is skipped."""
    ids = [str(i) for i in client.zrangebyscore(RUN_INDEX, time.time(), "+inf")]
    with client.pipeline(transaction=False) as pipe:
        for cluster_id in ids:
            pipe.hgetall(RUN_KEY + cluster_id)
        found = pipe.execute()
    return [
        (cluster_id, {str(k): str(v) for k, v in stats.items()})
        for cluster_id, stats in zip(ids, found, strict=True)
        if stats
    ]


class CollectionFigures(Collector):
    """Reads collection runs and queue depth from Redis at scrape time."""

    def __init__(self, redis_url: str | None):
        self.redis_url = redis_url

    def collect(self) -> Iterator[Any]:
        labels = ["cluster", "cluster_id", "org_id"]
        runs = CounterMetricFamily(
            "jetdeck_collections", "Collection runs per cluster.", labels=labels
        )
        errors = CounterMetricFamily(
            "jetdeck_collection_errors",
            "Collections that found the cluster unreachable or failed.",
            labels=labels,
        )
        seconds = CounterMetricFamily(
            "jetdeck_collection_duration_seconds",
            "Total time spent collecting, per cluster.",
            labels=labels,
        )
        last = GaugeMetricFamily(
            "jetdeck_collection_last_duration_seconds",
            "Duration of the latest collection, per cluster.",
            labels=labels,
        )
        depth = GaugeMetricFamily(
            "jetdeck_queue_depth", "Messages waiting in a worker queue.", labels=["queue"]
        )
        if self.redis_url:
            client = redis.Redis.from_url(
                self.redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
            )
            try:
                for cluster_id, stats in collection_runs(client):
                    values = [stats.get("cluster", ""), cluster_id, stats.get("org", "")]
                    runs.add_metric(values, float(stats.get("runs", 0)))
                    errors.add_metric(values, float(stats.get("errors", 0)))
                    seconds.add_metric(values, float(stats.get("duration_sum", 0)))
                    last.add_metric(values, float(stats.get("last_duration", 0)))
                for queue in QUEUES:
                    # Dramatiq's Redis broker keeps a queue's message ids in a list of that name.
                    depth.add_metric([queue], float(client.llen(f"dramatiq:{queue}")))
            except redis.RedisError:
                pass  # a scrape still answers with what this process knows
            finally:
                client.close()
        yield from (runs, errors, seconds, last, depth)


_figures: CollectionFigures | None = None


def exposition(redis_url: str | None) -> bytes:
    """The Prometheus text for this process, with cluster-wide collection figures."""
    global _figures
    if _figures is None:
        _figures = CollectionFigures(redis_url)
        registry.register(_figures)
    _figures.redis_url = redis_url
    return generate_latest(registry)
