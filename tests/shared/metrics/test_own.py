"""Collection figures for `GET /metrics`: each run is recorded where a scrape finds it without
scanning Redis keys, and a cluster whose figures lapsed is no longer reported."""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio as aioredis

from shared.metrics.own import RUN_INDEX, collection_runs, exposition, record_collection


async def record(client: aioredis.Redis, cluster_id: str, *, ok: bool = True, **kw) -> None:
    await record_collection(
        client,
        cluster_id=cluster_id,
        cluster_name=f"name-{cluster_id}",
        org_id="org-1",
        duration=0.5,
        ok=ok,
        requests=3,
        **kw,
    )


def runs(redis_url: str) -> dict[str, dict[str, str]]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return dict(collection_runs(client))
    finally:
        client.close()


async def test_every_run_of_a_cluster_adds_to_its_figures(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    await record(client, "c1")
    await record(client, "c1", ok=False)
    await record(client, "c2")
    await client.aclose()

    found = runs(redis_url)
    assert sorted(found) == ["c1", "c2"]
    assert (found["c1"]["runs"], found["c1"]["errors"], found["c1"]["cluster"]) == (
        "2",
        "1",
        "name-c1",
    )
    text = exposition(redis_url).decode()
    assert 'jetdeck_collections_total{cluster="name-c1",cluster_id="c1",org_id="org-1"} 2.0' in text
    assert 'jetdeck_collection_errors_total{cluster="name-c1",cluster_id="c1"' in text


async def test_a_cluster_whose_figures_lapsed_is_no_longer_reported_nor_indexed(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    await record(client, "gone", keep_for=0.2)
    await record(client, "kept")
    await asyncio.sleep(0.4)  # "gone" has no run for longer than its figures are kept

    assert sorted(runs(redis_url)) == ["kept"]
    assert 'cluster_id="gone"' not in exposition(redis_url).decode()
    await record(client, "kept")  # the next run trims what lapsed from the index
    members = await client.zrange(RUN_INDEX, 0, -1)
    await client.aclose()
    assert members == [b"kept"]


async def test_figures_deleted_before_their_time_are_skipped(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    await record(client, "c1")
    await record(client, "c2")
    await client.delete("jetdeck:metrics:collect:c1")  # evicted, or removed by hand
    await client.aclose()

    assert sorted(runs(redis_url)) == ["c2"]
