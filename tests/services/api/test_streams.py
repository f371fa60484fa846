"""Streams through the API, against real nats-server nodes."""

from __future__ import annotations

import asyncio
from typing import Any


async def test_a_list_of_600_streams_returns_all_600(on_server: Any, nats_server: Any) -> None:
    nc = await nats_server.connect()
    try:
        await asyncio.gather(
            *(
                nc.request(
                    f"$JS.API.STREAM.CREATE.S{i:03}",
                    f'{{"name":"S{i:03}","subjects":["s{i:03}"],"storage":"memory"}}'.encode(),
                    timeout=10,
                )
                for i in range(600)
            )
        )
    finally:
        await nc.close()
    everything = await on_server.get("/streams", params={"limit": 1000})
    assert everything.json()["total"] == 600
    assert len(everything.json()["items"]) == 600
    pages = []
    for offset in range(0, 600, 250):
        page = await on_server.get("/streams", params={"offset": offset, "limit": 250})
        pages += [s["name"] for s in page.json()["items"]]
    assert pages == [f"S{i:03}" for i in range(600)]


async def test_streams_are_searched_by_name_or_subject_and_sorted(on_server: Any) -> None:
    await on_server.create_stream("ORDERS")
    await on_server.create_stream("PAYMENTS", subjects=["billing.>"])
    await on_server.post("/messages", json={"subject": "orders.new", "text": "x"})
    await on_server.post("/streams/ORDERS/messages", json={"subject": "orders.new", "text": "x"})
    by_name = (await on_server.get("/streams", params={"search": "ord"})).json()
    assert [s["name"] for s in by_name["items"]] == ["ORDERS"]
    by_subject = (await on_server.get("/streams", params={"search": "billing"})).json()
    assert [s["name"] for s in by_subject["items"]] == ["PAYMENTS"]
    by_size = (await on_server.get("/streams", params={"sort": "-messages"})).json()
    assert [s["name"] for s in by_size["items"]] == ["ORDERS", "PAYMENTS"]
    item = by_size["items"][0]
    assert item["messages"] == 1 and item["last_seq"] == 1 and item["subjects"] == ["orders.>"]


async def test_a_stream_config_is_nats_own_json_with_nanosecond_durations(on_server: Any) -> None:
    created = await on_server.create_stream(
        "ORDERS", max_age=3_600_000_000_000, duplicate_window=60_000_000_000
    )
    assert created["config"]["max_age"] == 3_600_000_000_000
    info = (await on_server.get("/streams/ORDERS")).json()
    assert set(info) >= {"config", "state", "cluster", "created"}
    assert info["config"]["duplicate_window"] == 60_000_000_000


async def test_a_dry_run_update_lists_changes_and_flags_what_nats_cannot_change(
    on_server: Any,
) -> None:
    await on_server.create_stream("ORDERS")
    dry = await on_server.put(
        "/streams/ORDERS", params={"dry_run": "true"}, json={"max_msgs": 10, "storage": "file"}
    )
    assert dry.status_code == 200, dry.text
    changes = {c["field"]: c for c in dry.json()["changes"]}
    assert changes["max_msgs"]["updatable"] is True and changes["max_msgs"]["after"] == 10
    assert changes["storage"]["updatable"] is False
    still = (await on_server.get("/streams/ORDERS")).json()
    assert still["config"]["max_msgs"] == -1


async def test_an_update_applies_the_given_fields_and_an_immutable_one_is_nats_400(
    on_server: Any,
) -> None:
    await on_server.create_stream("ORDERS")
    updated = await on_server.put("/streams/ORDERS", json={"max_msgs": 10})
    assert updated.status_code == 200, updated.text
    assert updated.json()["config"]["max_msgs"] == 10
    refused = await on_server.put("/streams/ORDERS", json={"storage": "file"})
    assert refused.status_code == 400
    assert refused.json()["extra"]["nats_err_code"] > 0
    assert "storage" in refused.json()["extra"]["description"]


async def test_overlapping_subjects_are_a_conflict_with_nats_meaning(on_server: Any) -> None:
    await on_server.create_stream("ORDERS")
    clash = await on_server.post(
        "/streams", json={"name": "OTHER", "subjects": ["orders.new"], "storage": "memory"}
    )
    assert clash.status_code == 409
    assert clash.json()["extra"]["nats_err_code"] == 10065


async def test_unknown_streams_are_404_and_invalid_names_never_reach_nats(on_server: Any) -> None:
    missing = await on_server.get("/streams/NOPE")
    assert missing.status_code == 404 and missing.json()["code"] == "stream_not_found"
    dotted = await on_server.get("/streams/A.B")
    assert dotted.status_code == 404


async def test_a_stream_is_deleted(on_server: Any) -> None:
    await on_server.create_stream("ORDERS")
    assert (await on_server.delete("/streams/ORDERS")).status_code == 204
    assert (await on_server.get("/streams/ORDERS")).status_code == 404


async def test_purge_all_by_subject_keep_and_up_to_seq(on_server: Any) -> None:
    await on_server.create_stream("ORDERS")
    for i in range(10):
        await on_server.post(
            "/streams/ORDERS/messages",
            json={"subject": f"orders.{'a' if i % 2 else 'b'}", "text": str(i)},
        )
    by_subject = await on_server.post("/streams/ORDERS/purge", json={"subject": "orders.a"})
    assert by_subject.json() == {"purged": 5}
    keep = await on_server.post("/streams/ORDERS/purge", json={"keep": 2})
    assert keep.json() == {"purged": 3}
    up_to = await on_server.post("/streams/ORDERS/purge", json={"seq": 9})  # below 9
    assert up_to.json() == {"purged": 1}
    everything = await on_server.post("/streams/ORDERS/purge", json={})
    assert everything.json() == {"purged": 1}


async def test_viewers_read_streams_but_cannot_change_them(on_server: Any) -> None:
    await on_server.create_stream("ORDERS")
    assert (await on_server.get("/streams/ORDERS", headers=on_server.viewer)).status_code == 200
    refused = await on_server.delete("/streams/ORDERS", headers=on_server.viewer)
    assert refused.status_code == 403


async def test_stream_changes_are_on_the_audit_trail(on_server: Any) -> None:
    await on_server.create_stream("ORDERS")
    await on_server.put("/streams/ORDERS", json={"max_msgs": 5})
    events = await on_server.client.get(
        "/api/v1/orgs/acme/audit-events",
        headers=on_server.admin,
        params={"action": "stream.update"},
    )
    event = events.json()["items"][0]
    assert event["target"] == "stream:ORDERS"
    assert event["diff"]["after"]["max_msgs"] == 5


async def test_an_r3_stream_keeps_working_when_a_node_is_killed(
    on_cluster: Any, nats_cluster: Any
) -> None:
    await on_cluster.create_stream("ORDERS", num_replicas=3, storage="file")
    for i in range(5):
        await on_cluster.post(
            "/streams/ORDERS/messages", json={"subject": "orders.x", "text": f"{i}"}
        )
    nats_cluster.stop_node(0)
    for _ in range(40):  # the stream's leader may have been on the node: wait for the new one
        published = await on_cluster.post(
            "/streams/ORDERS/messages", json={"subject": "orders.x", "text": "after"}
        )
        if published.status_code == 201:
            break
        await asyncio.sleep(0.25)
    assert published.status_code == 201, published.text
    info = (await on_cluster.get("/streams/ORDERS")).json()
    assert info["state"]["messages"] == 6
    page = (await on_cluster.get("/streams/ORDERS/messages", params={"limit": 10})).json()
    assert [m["text"] for m in page["messages"]] == ["0", "1", "2", "3", "4", "after"]
    listed = (await on_cluster.get("/streams")).json()
    assert listed["total"] == 1


async def test_a_wildcard_search_asks_nats_for_streams_on_that_subject(on_server: Any) -> None:
    await on_server.create_stream("ORDERS")
    await on_server.create_stream("PAYMENTS")
    found = (await on_server.get("/streams", params={"search": "payments.eu"})).json()
    assert [s["name"] for s in found["items"]] == ["PAYMENTS"]


async def test_creating_an_existing_stream_with_another_config_is_a_conflict(
    on_server: Any,
) -> None:
    await on_server.create_stream("ORDERS")
    again = await on_server.post(
        "/streams", json={"name": "ORDERS", "subjects": ["other.>"], "storage": "memory"}
    )
    assert again.status_code == 409
    assert again.json()["extra"]["nats_err_code"] == 10058
