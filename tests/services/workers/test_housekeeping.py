"""Housekeeping runs on a clock: the scheduler enqueues it every JETDECK_HOUSEKEEPING_INTERVAL
seconds, and the actor purges what can never be used again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import dramatiq
import pytest
from sqlalchemy import select, update

from services.workers.scheduler import Scheduler, standard_jobs
from shared.accounts.models import RefreshToken
from shared.accounts.tokens import token_digest
from shared.db.base import utcnow
from tests.fixtures.accounts import Accounts


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[Any]:
    """The worker's and scheduler's settings (read from the environment) on this test's
    services, housekeeping every two minutes."""
    from services.workers import context
    from shared.config import get_settings

    monkeypatch.setenv("JETDECK_ENV", "test")
    monkeypatch.setenv("JETDECK_REDIS_URL", settings.redis.url)
    monkeypatch.setenv("JETDECK_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("JETDECK_HOUSEKEEPING_INTERVAL", "120")
    get_settings.cache_clear()
    context._backends = None
    yield settings
    get_settings.cache_clear()
    context._backends = None


def test_the_scheduler_enqueues_housekeeping_at_the_configured_interval(
    worker_env: Any, stub_broker: Any
) -> None:
    scheduler = standard_jobs(Scheduler(worker_env.redis.url))
    job = scheduler.scheduler.get_job("housekeeping")
    assert job is not None
    assert job.trigger.interval == timedelta(seconds=120)
    assert scheduler.lock.refresh() is True  # lead, as the single scheduler does
    try:
        job.func()
    finally:
        scheduler.lock.release()
    queued = [dramatiq.Message.decode(data) for data in stub_broker.queues["default"].queue]
    assert [m.actor_name for m in queued] == ["housekeeping"]


async def test_the_housekeeping_actor_purges_expired_logins_on_a_worker(
    worker_env: Any, stub_broker: Any, accounts: Accounts
) -> None:
    from services.workers.actors import housekeeping

    expired = await accounts.login(await accounts.make_user("ada@example.com"))
    live = await accounts.login(await accounts.make_user("bob@example.com"))
    expired_login = select(RefreshToken.login_id).where(
        RefreshToken.token_hash == token_digest(accounts.backends.settings, expired.refresh_token)
    )
    async with accounts.db.session() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.login_id.in_(expired_login))
            .values(expires_at=utcnow() - timedelta(days=2))
        )

    housekeeping.send()
    worker = dramatiq.Worker(stub_broker, worker_timeout=100)
    worker.start()
    try:
        stub_broker.join(housekeeping.queue_name, fail_fast=True)
        worker.join()
    finally:
        worker.stop()

    async with accounts.db.session() as session:
        left = (await session.scalars(select(RefreshToken.token_hash))).all()
    assert left == [token_digest(accounts.backends.settings, live.refresh_token)]
