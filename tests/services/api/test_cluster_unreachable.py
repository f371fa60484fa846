"""A cluster whose port accepts connections but never speaks: concurrent requests all answer
503 within JETDECK_NATS_REQUEST_TIMEOUT (they share one connect attempt), and the failure is
remembered briefly so the next requests answer at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.fixtures.jetstream import ORG_PATH
from tests.fixtures.services import make_settings
from tests.shared.test_nats_unreachable import SilentServer


@pytest.fixture
def settings(database_url: str, redis_url: str, clickhouse_migrated: str) -> Any:
    return make_settings(
        database={"url": database_url},
        redis={"url": redis_url},
        clickhouse={"url": clickhouse_migrated},
        nats={"request_timeout": 2},
    )


async def test_six_concurrent_requests_to_a_silent_cluster_all_answer_503_in_time(
    client: Any, auth_headers: Any
) -> None:
    silent = SilentServer()
    admin = await auth_headers("admin")
    body = {"name": "silent", "servers": [f"nats://127.0.0.1:{silent.port}"], "environment": "t"}
    try:
        created = await client.post(ORG_PATH, json=body, headers=admin)
        assert created.status_code == 201, created.text
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def one() -> tuple[int, float]:
            response = await client.get(f"{ORG_PATH}/silent/streams", headers=admin)
            return response.status_code, loop.time() - started

        answers = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(6))), 30)
        again = await client.get(f"{ORG_PATH}/silent/streams", headers=admin)
        attempts = silent.drain()
    finally:
        silent.close()
    assert [status for status, _ in answers] == [503] * 6
    assert again.status_code == 503
    assert attempts == 1  # one shared attempt; the failure remembered for the next request
    assert max(elapsed for _, elapsed in answers) < 2 * 2  # within the timeout, not 6 x
