"""The worker path end to end: an enqueued actor runs and leaves its mark in Redis and
ClickHouse — in memory with Dramatiq's StubBroker, and through a real `jetdeck worker`."""

import os
import signal
import subprocess
import sys
import time

import dramatiq
import psutil
import pytest
import redis as redis_sync
from dramatiq.brokers.redis import RedisBroker

from shared.workers_state import HEARTBEAT_KEY


@pytest.fixture
def worker_env(monkeypatch, settings):
    """Point the worker's own backends (read from the environment) at this test's services."""
    from services.workers import context
    from shared.config import get_settings

    monkeypatch.setenv("JETDECK_REDIS_URL", settings.redis.url)
    monkeypatch.setenv("JETDECK_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("JETDECK_CLICKHOUSE_URL", settings.clickhouse.url)
    monkeypatch.setenv("JETDECK_CLICKHOUSE_DATABASE", settings.clickhouse.database)
    get_settings.cache_clear()
    context._backends = None
    yield settings
    get_settings.cache_clear()
    context._backends = None


async def test_a_heartbeat_runs_on_the_stub_broker_and_is_recorded(
    stub_broker, worker_env, clickhouse
) -> None:
    from services.workers.actors import heartbeat

    heartbeat.send()
    worker = dramatiq.Worker(stub_broker, worker_timeout=100)
    worker.start()
    try:
        stub_broker.join(heartbeat.queue_name, fail_fast=True)
        worker.join()
    finally:
        worker.stop()
    assert redis_sync.Redis.from_url(worker_env.redis.url).get(HEARTBEAT_KEY) is not None
    rows = await clickhouse.query(f"SELECT count() FROM {clickhouse.database}.worker_heartbeats")
    assert rows[0][0] == 1


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_")}
    env.update(JETDECK_ENV="development", **extra)
    return env


def test_a_real_worker_takes_messages_from_redis(tmp_path, database_url, redis_url) -> None:
    env = _child_env(
        JETDECK_DATABASE_URL=database_url,
        JETDECK_REDIS_URL=redis_url,
        JETDECK_BROKER="redis",
        JETDECK_CLICKHOUSE_URL=f"chdb://{tmp_path / 'ch'}",  # chDB: one process per data path
    )
    migrate = subprocess.run(
        [sys.executable, "-m", "services", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr

    broker = RedisBroker(url=redis_url)
    broker.declare_queue("default")
    broker.enqueue(
        dramatiq.Message(
            queue_name="default", actor_name="heartbeat", args=(), kwargs={}, options={}
        )
    )
    worker_log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "services", "worker"],
        env=env,
        stdout=open(worker_log, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = redis_sync.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 120  # a cold worker imports the whole app
        while client.get(HEARTBEAT_KEY) is None and time.monotonic() < deadline:
            assert worker.poll() is None, worker_log.read_text()
            time.sleep(0.2)
        assert client.get(HEARTBEAT_KEY) is not None, worker_log.read_text()
    finally:
        children = psutil.Process(worker.pid).children(recursive=True)
        # As `timeout`, Ctrl-C or systemd do: the signal reaches the whole process group.
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(60)
        finally:
            _, alive = psutil.wait_procs(children, timeout=30)
            for process in alive:
                process.kill()
            broker.close()
    assert worker.returncode is not None
    assert alive == [], f"still running after SIGTERM: {[p.pid for p in alive]}"
