"""Consumers through the API."""

from __future__ import annotations

from typing import Any


async def test_a_consumer_is_created_listed_read_updated_and_deleted(on_server: Any) -> None:
    await on_server.create_stream("ORDERS")
    created = await on_server.post(
        "/streams/ORDERS/consumers",
        json={
            "durable_name": "shipper",
            "ack_policy": "explicit",
            "filter_subject": "orders.>",
            "ack_wait": 30_000_000_000,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["config"]["ack_wait"] == 30_000_000_000
    listed = (await on_server.get("/streams/ORDERS/consumers")).json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "shipper"
    updated = await on_server.put(
        "/streams/ORDERS/consumers/shipper", json={"description": "ships orders"}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["config"]["description"] == "ships orders"
    assert (await on_server.get("/streams/ORDERS/consumers/shipper")).status_code == 200
    assert (await on_server.delete("/streams/ORDERS/consumers/shipper")).status_code == 204
    gone = await on_server.get("/streams/ORDERS/consumers/shipper")
    assert gone.status_code == 404 and gone.json()["code"] == "consumer_not_found"


async def test_every_consumer_is_listed_past_one_page(on_server: Any, nats_server: Any) -> None:
    await on_server.create_stream("ORDERS")
    nc = await nats_server.connect()
    try:
        for i in range(300):
            await nc.request(
                f"$JS.API.CONSUMER.CREATE.ORDERS.c{i:03}",
                f'{{"stream_name":"ORDERS","config":{{"durable_name":"c{i:03}"}}}}'.encode(),
                timeout=5,
            )
    finally:
        await nc.close()
    listed = (await on_server.get("/streams/ORDERS/consumers", params={"limit": 1000})).json()
    assert listed["total"] == 300 and len(listed["items"]) == 300


async def test_a_consumer_is_paused_until_a_time_and_resumed(on_server: Any) -> None:
    await on_server.create_stream("ORDERS")
    await on_server.post("/streams/ORDERS/consumers", json={"durable_name": "shipper"})
    paused = await on_server.post(
        "/streams/ORDERS/consumers/shipper/pause", json={"until": "2999-01-01T00:00:00Z"}
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True
    resumed = await on_server.post("/streams/ORDERS/consumers/shipper/resume")
    assert resumed.status_code == 200
    assert not resumed.json().get("paused")


async def test_an_invalid_consumer_config_is_nats_400(on_server: Any) -> None:
    await on_server.create_stream("ORDERS")
    bad = await on_server.post(
        "/streams/ORDERS/consumers",
        json={
            "durable_name": "x",
            "ack_policy": "none",
            "max_ack_pending": 5,
            "deliver_policy": "by_start_sequence",
        },
    )
    assert bad.status_code == 400
    assert bad.json()["extra"]["nats_err_code"] > 0


async def test_consumers_of_an_unknown_stream_are_404(on_server: Any) -> None:
    response = await on_server.get("/streams/NOPE/consumers")
    assert response.status_code == 404 and response.json()["code"] == "stream_not_found"


async def test_pausing_an_unknown_consumer_or_one_of_an_unknown_stream_is_404(
    on_server: Any,
) -> None:
    await on_server.create_stream("ORDERS")
    until = {"until": "2999-01-01T00:00:00Z"}
    response = await on_server.post("/streams/ORDERS/consumers/nope/pause", json=until)
    assert response.status_code == 404 and response.json()["code"] == "consumer_not_found"
    response = await on_server.post("/streams/NOPE/consumers/nope/resume")
    assert response.status_code == 404 and response.json()["code"] == "stream_not_found"
