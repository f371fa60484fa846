"""Actors. Each is idempotent and states its retry policy."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

import dramatiq
from dramatiq.asyncio import async_to_sync
from dramatiq.middleware import CurrentMessage

from services.workers.broker import broker
from services.workers.collection import (
    enqueue_collections,
    inflight_ttl,
    release,
    renew,
    running,
    running_ttl,
)
from services.workers.context import worker_backends
from shared.accounts.housekeeping import purge_expired
from shared.errors import Unavailable
from shared.metrics.collector import collect_cluster
from shared.metrics.own import record_collection
from shared.metrics.targets import collection_target, enabled_cluster_ids
from shared.workers_state import HEARTBEAT_KEY

log = logging.getLogger("jetdeck.workers")

WORKER_LABEL = f"{socket.gethostname()}:{os.getpid()}"


# Retry policy: none. A missed heartbeat is replaced by the next tick, and retrying a stale
# one would only report a worker as alive later than it was.
@dramatiq.actor(broker=broker, max_retries=0, time_limit=30_000)
async def heartbeat() -> None:
    """Prove the whole path: scheduler → Redis → worker → Redis and ClickHouse."""
    backends = worker_backends()
    now = time.time()
    if backends.redis is not None:
        await backends.redis.set(HEARTBEAT_KEY, now, ex=3600)
    if backends.clickhouse is not None:
        await backends.clickhouse.insert(
            "worker_heartbeats",
            [[datetime.fromtimestamp(now, UTC), WORKER_LABEL]],
            ["at", "worker"],
        )


# Retry policy: none. It runs every collection interval; a missed round is replaced by the
# next one, and a late one would enqueue collections for a cycle already over.
@dramatiq.actor(broker=broker, max_retries=0, time_limit=30_000)
async def schedule_collections(cycle: int) -> None:
    """Fan out: one `collect_metrics` message per enabled cluster not already in flight."""
    backends = worker_backends()
    if backends.redis is None:
        raise Unavailable("Scheduling collections needs Redis (JETDECK_REDIS_URL).")
    cluster_ids = await enabled_cluster_ids(backends)
    await enqueue_collections(
        backends.redis,
        cluster_ids,
        cycle,
        backends.settings.workers.collect_interval,
        collect_metrics.send,
    )


# Retry policy: at most 2 retries, 1-5 s apart, and only for failures that are not the
# cluster's (ClickHouse or the database unavailable): an unreachable cluster is not an error
# but an "unreachable" sample. A retry carries the same cycle time, so it never stores a
# sample twice. The time limit keeps one stuck cluster from holding a worker thread.
# The in-flight claim is kept while a retry is pending (so the next fan-out does not enqueue a
# second collection of the cluster) and released, with the run recorded, once none follows.
# Synchronous on the outside: the current message (how many retries are left) is only known
# on the worker's thread, not on the event loop the collection itself runs on.
@dramatiq.actor(
    broker=broker, max_retries=2, min_backoff=1_000, max_backoff=5_000, time_limit=60_000
)
def collect_metrics(cluster_id: str, cycle: int) -> None:
    """Collect one cluster's figures for one cycle into ClickHouse."""
    final = _last_attempt(CurrentMessage.get_current_message())
    async_to_sync(_collect_metrics)(cluster_id, cycle, final)


def _last_attempt(message: dramatiq.Message[Any] | None) -> bool:
    """Whether a failure of this attempt would not be retried (read as the Retries
    middleware will: the message's own `max_retries`, else the actor's)."""
    if message is None:  # called directly, not by a worker
        return True
    retries = int(message.options.get("retries", 0))
    limit = message.options.get("max_retries", collect_metrics.options.get("max_retries"))
    return limit is not None and retries >= int(limit)


async def _collect_metrics(cluster_id: str, cycle: int, final: bool) -> None:
    backends = worker_backends()
    started = time.monotonic()
    target = result = None
    done = False  # no retry follows: succeeded, or nothing to collect
    interval = backends.settings.workers.collect_interval
    alive = (
        running(backends.redis, cluster_id, cycle, running_ttl(interval))
        if backends.redis is not None
        else contextlib.nullcontext()
    )
    try:
        async with alive:
            if backends.clickhouse is None:
                raise Unavailable("Collection needs ClickHouse (JETDECK_CLICKHOUSE_URL).")
            target = await collection_target(backends, cluster_id)
            if target is None:
                done = True
                return  # removed or disabled since it was enqueued
            result = await collect_cluster(
                backends.clickhouse,
                backends.nats,
                target,
                datetime.fromtimestamp(cycle, UTC),
                backends.settings.metrics,
            )
            done = True
    finally:
        if backends.redis is not None and (done or final):
            if target is not None:
                await record_collection(
                    backends.redis,
                    cluster_id=cluster_id,
                    cluster_name=target.cluster_name,
                    org_id=target.org_id,
                    duration=time.monotonic() - started,
                    ok=result is not None and result.reachable,
                    requests=result.requests if result else 0,
                )
            await release(backends.redis, cluster_id, cycle)
        elif backends.redis is not None:
            # A retry is pending: the claim waits for it as a queued one does.
            await renew(backends.redis, cluster_id, cycle, inflight_ttl(interval))


# Retry policy: none. Every run deletes whatever is due by then, so a failed one is made good
# by the next tick; each batch commits on its own, so a run cut short loses nothing.
@dramatiq.actor(broker=broker, max_retries=0, time_limit=600_000)
async def housekeeping() -> None:
    """Delete expired refresh tokens, web sessions and invitations (not audited: no user
    changed anything), and log how many went."""
    counts = await purge_expired(worker_backends())
    log.info("housekeeping: deleted %s", ", ".join(f"{n} {table}" for table, n in counts.items()))
