"""Actors. Each is idempotent and states its retry policy."""

from __future__ import annotations

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
from services.workers.collection import enqueue_collections, release
from services.workers.context import worker_backends
from shared.accounts.housekeeping import purge_expired
from shared.alerts.evaluation import evaluate_rules
from shared.alerts.metrics import Cycle
from shared.errors import Unavailable
from shared.metrics.collector import collect_cluster
from shared.metrics.own import record_collection
from shared.metrics.targets import collection_target, enabled_cluster_ids
from shared.notify.outbox import deliver, sweep
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
    try:
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
        # Alerts right after the cycle's samples are stored, on those very samples. A failure
        # here retries the whole cycle: storing is idempotent and so is the evaluation.
        queued = await evaluate_rules(
            backends,
            Cycle(
                cluster_id,
                target.cluster_name,
                result.ts,
                result.collection if result.reachable else None,
            ),
        )
        for delivery_id in queued:
            deliver_notification.send(delivery_id)
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


# Retry policy: none. Every run deletes whatever is due by then, so a failed one is made good
# by the next tick; each batch commits on its own, so a run cut short loses nothing.
@dramatiq.actor(broker=broker, max_retries=0, time_limit=600_000)
async def housekeeping() -> None:
    """Delete expired refresh tokens, web sessions and invitations (not audited: no user
    changed anything), and log how many went."""
    counts = await purge_expired(worker_backends())
    log.info("housekeeping: deleted %s", ", ".join(f"{n} {table}" for table, n in counts.items()))


# Retry policy: none at the Dramatiq level. The outbox row carries its own: transient failures
# are re-sent by this actor itself with the backoff `deliver` computed (bounded attempts);
# permanent ones are never retried. A message lost on the way is made good by the sweeper.
@dramatiq.actor(broker=broker, max_retries=0, time_limit=120_000)
async def deliver_notification(delivery_id: str) -> None:
    """Send one queued notification (claimed atomically; a duplicate message is a no-op)."""
    outcome = await deliver(worker_backends(), delivery_id)
    if outcome.state in ("retry", "held") and outcome.retry_in is not None:
        deliver_notification.send_with_options(
            args=(delivery_id,), delay=int(outcome.retry_in * 1000) + 1
        )


# Retry policy: none. It runs every few seconds; the next run does what a failed one missed.
@dramatiq.actor(broker=broker, max_retries=0, time_limit=60_000)
async def sweep_deliveries() -> None:
    """Re-queue deliveries a killed worker left "sending" and any due one whose message was
    lost; each keeps its id (the webhook-id), so a receiver can deduplicate a resend."""
    for delivery_id in await sweep(worker_backends()):
        deliver_notification.send(delivery_id)
