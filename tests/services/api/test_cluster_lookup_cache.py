"""Requests resolve a cluster's name from a per-process cache (shared/clusters/registry.py
`RESOLVED`), yet a cluster changed or removed through another JetDeck process is resolved
afresh on the next request: real PostgreSQL, Redis and NATS; the SQL is counted on the app's
own engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event

from services.app import create_app
from tests.fixtures.jetstream import ORG_PATH


@pytest.fixture
def cluster_selects(app: Litestar, client: Any) -> Iterator[list[str]]:
    """The SELECTs on the clusters table the app under test sends (its lifespan has run)."""
    engine = app.state.backends.database.engine.sync_engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM clusters" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


async def test_a_cluster_is_looked_up_once_for_many_requests(
    on_server: Any, cluster_selects: list[str]
) -> None:
    assert (await on_server.get("/streams")).status_code == 200
    before = len(cluster_selects)
    assert before >= 1  # the first request looked it up
    for _ in range(5):
        assert (await on_server.get("/streams")).status_code == 200
        assert (await on_server.get("/streams/NOPE/metrics")).status_code == 200
    assert len(cluster_selects) == before


async def test_a_cluster_renamed_or_removed_in_another_process_is_resolved_afresh(
    on_server: Any, settings: Any
) -> None:
    assert (await on_server.get("/streams")).status_code == 200  # resolved and cached here
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as other:
        renamed = await other.patch(
            f"{ORG_PATH}/main", json={"name": "renamed"}, headers=on_server.admin
        )
        assert renamed.status_code == 200, renamed.text
        gone = await on_server.get("/streams")
        assert gone.status_code == 404 and gone.json()["code"] == "cluster_not_found"
        moved = await on_server.client.get(f"{ORG_PATH}/renamed/streams", headers=on_server.viewer)
        assert moved.status_code == 200, moved.text
        deleted = await other.delete(f"{ORG_PATH}/renamed", headers=on_server.admin)
        assert deleted.status_code == 204, deleted.text
    after = await on_server.client.get(f"{ORG_PATH}/renamed/streams", headers=on_server.viewer)
    assert after.status_code == 404
