"""The scheduler only enqueues, and only while it holds the leader lock."""

import threading

import redis as redis_sync

from services.workers.scheduler import LeaderLock, Scheduler


def test_only_one_scheduler_leads_at_a_time(redis_url) -> None:
    client = redis_sync.Redis.from_url(redis_url)
    first, second = LeaderLock(client, ttl=5), LeaderLock(client, ttl=5)
    assert first.refresh() is True
    assert second.refresh() is False
    assert first.refresh() is True  # renewing keeps it


def test_a_standby_takes_over_when_the_leader_lets_go(redis_url) -> None:
    client = redis_sync.Redis.from_url(redis_url)
    first, second = LeaderLock(client, ttl=5), LeaderLock(client, ttl=5)
    first.refresh()
    first.release()
    assert second.refresh() is True
    assert first.refresh() is False


def test_a_lock_that_expired_is_not_renewed_by_its_old_holder(redis_url) -> None:
    client = redis_sync.Redis.from_url(redis_url)
    first, second = LeaderLock(client, ttl=5), LeaderLock(client, ttl=5)
    first.refresh()
    client.delete(first.key)  # as if its TTL ran out while it was paused
    assert second.refresh() is True
    assert first.refresh() is False


def test_jobs_enqueue_only_on_the_leader(redis_url) -> None:
    ran = {"leader": 0, "standby": 0}
    done = threading.Event()
    leader, standby = Scheduler(redis_url), Scheduler(redis_url)

    def on_leader() -> None:
        ran["leader"] += 1
        if ran["leader"] >= 2:
            done.set()

    leader.every(0.2, "job", on_leader)
    standby.every(0.2, "job", lambda: ran.__setitem__("standby", ran["standby"] + 1))
    leader.start()
    standby.start()
    try:
        assert done.wait(10)
    finally:
        leader.stop()
        standby.stop()
    assert ran["standby"] == 0
