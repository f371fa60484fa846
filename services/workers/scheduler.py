"""The scheduler: one process that only enqueues, on a clock.

Several may be started (for availability); a Redis lock with a TTL makes exactly one the
leader, and only the leader enqueues. If the leader dies, its lock expires and another
takes over within `LOCK_TTL` seconds.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable

import redis
from apscheduler.schedulers.background import BackgroundScheduler

from services.workers.collection import RELEASE_IF_HELD
from shared.metrics.collector import cycle_time

log = logging.getLogger("jetdeck.scheduler")

LOCK_KEY = "jetdeck:scheduler:leader"
LOCK_TTL = 15.0
HEARTBEAT_EVERY = 30.0

# Renew only if we still hold it: compare-and-extend in one step.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class LeaderLock:
    def __init__(self, client: redis.Redis, key: str = LOCK_KEY, ttl: float = LOCK_TTL):
        self.client = client
        self.key = key
        self.ttl_ms = int(ttl * 1000)
        self.token = secrets.token_hex(16)
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def refresh(self) -> bool:
        """Take the lock if free, extend it if ours. Returns whether we lead now."""
        try:
            if self._held and self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms):
                return True
            self._held = bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))
        except redis.RedisError as exc:
            log.warning("scheduler lock: Redis unavailable (%s); not leading", exc)
            self._held = False
        return self._held

    def release(self) -> None:
        try:
            self.client.eval(RELEASE_IF_HELD, 1, self.key, self.token)
        except redis.RedisError:
            pass
        self._held = False


class Scheduler:
    """APScheduler jobs that enqueue Dramatiq messages while this process leads."""

    def __init__(self, redis_url: str):
        self.lock = LeaderLock(redis.Redis.from_url(redis_url, socket_timeout=5))
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.scheduler.add_job(
            self._refresh_lock,
            "interval",
            seconds=LOCK_TTL / 3,
            id="leader-lock",
            max_instances=1,
            coalesce=True,
        )

    def _refresh_lock(self) -> None:
        was = self.lock.held
        now = self.lock.refresh()
        if now != was:
            log.info("scheduler %s", "is the leader" if now else "is standing by")

    def every(self, seconds: float, job_id: str, enqueue: Callable[[], object]) -> None:
        def run() -> None:
            if self.lock.held:
                enqueue()

        self.scheduler.add_job(
            run, "interval", seconds=seconds, id=job_id, max_instances=1, coalesce=True
        )

    def start(self) -> None:
        self._refresh_lock()
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.lock.release()


def standard_jobs(scheduler: Scheduler) -> Scheduler:
    """The jobs every JetDeck deployment runs; feature issues add theirs here."""
    from services.workers.actors import (
        heartbeat,
        housekeeping,
        schedule_collections,
        sweep_deliveries,
    )
    from shared.config import get_settings

    scheduler.every(HEARTBEAT_EVERY, "heartbeat", heartbeat.send)
    settings = get_settings()
    workers = settings.workers
    scheduler.every(workers.housekeeping_interval, "housekeeping", housekeeping.send)
    interval = workers.collect_interval
    # One fan-out message per interval; a worker enqueues one collection per cluster (it has
    # the database; this process only enqueues). The cycle's start time travels with it.
    scheduler.every(
        interval, "collect-metrics", lambda: schedule_collections.send(collection_cycle(interval))
    )
    # The outbox: deliveries a killed worker left "sending", and due ones whose message was lost.
    scheduler.every(settings.notify.sweep_interval, "sweep-deliveries", sweep_deliveries.send)
    return scheduler


def collection_cycle(interval: int, now: float | None = None) -> int:
    """The start of the current collection cycle (`cycle_time`), in whole seconds since the
    epoch, as a message carries it."""
    return int(cycle_time(interval, now).timestamp())


def run_forever(redis_url: str, stop: threading.Event) -> None:
    scheduler = standard_jobs(Scheduler(redis_url))
    scheduler.start()
    log.info("scheduler started")
    try:
        stop.wait()
    finally:
        scheduler.stop()
