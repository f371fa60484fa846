"""Messages through the API: browsing never changes a stream."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
from typing import Any

import pytest


async def publish(api: Any, stream: str, subject: str, text: str, **extra: Any) -> Any:
    response = await api.post(
        f"/streams/{stream}/messages", json={"subject": subject, "text": text, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def fill(
    nats_target: Any, stream: str, count: int, subject: str = "s.x", payload: str = "m{}"
) -> None:
    nc = await nats_target.connect()
    js = nc.jetstream()
    try:
        for start in range(0, count, 1000):
            acks = [
                await js.publish(subject, payload.format(i).encode(), wait_stall=None)
                if False
                else js.publish(subject, payload.format(i).encode())
                for i in range(start, min(start + 1000, count))
            ]
            await asyncio.gather(*acks)
    finally:
        await nc.close()


@pytest.fixture(params=[True, False], ids=["direct-get", "msg-get"])
def allow_direct(request: Any) -> bool:
    return bool(request.param)


async def test_browsing_forward_and_backward_from_a_sequence(
    on_server: Any, allow_direct: bool
) -> None:
    await on_server.create_stream("S", subjects=["s.>"], allow_direct=allow_direct)
    for i in range(1, 31):
        await publish(on_server, "S", "s.a" if i % 3 else "s.b", f"m{i}")
    first = (await on_server.get("/streams/S/messages", params={"limit": 10})).json()
    assert [m["seq"] for m in first["messages"]] == list(range(1, 11))
    assert first["next_seq"] == 11
    following = (
        await on_server.get(
            "/streams/S/messages", params={"start_seq": first["next_seq"], "limit": 25}
        )
    ).json()
    assert [m["seq"] for m in following["messages"]] == list(range(11, 31))
    assert following["next_seq"] is None
    back = (
        await on_server.get(
            "/streams/S/messages", params={"direction": "backward", "start_seq": 12, "limit": 5}
        )
    ).json()
    assert [m["seq"] for m in back["messages"]] == [12, 11, 10, 9, 8]
    assert back["next_seq"] == 7
    newest = (
        await on_server.get(
            "/streams/S/messages", params={"direction": "backward", "limit": 3, "subject": "s.b"}
        )
    ).json()
    assert [m["seq"] for m in newest["messages"]] == [30, 27, 24]
    only_b = (await on_server.get("/streams/S/messages", params={"subject": "s.b"})).json()
    assert [m["seq"] for m in only_b["messages"]] == [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]


async def test_browsing_from_a_time(on_server: Any, allow_direct: bool) -> None:
    await on_server.create_stream("S", subjects=["s.>"], allow_direct=allow_direct)
    await publish(on_server, "S", "s.a", "old")
    await asyncio.sleep(0.05)
    second = (await on_server.get("/streams/S/messages/1")).json()
    await asyncio.sleep(0.05)
    await publish(on_server, "S", "s.a", "new")
    newer = (await on_server.get("/streams/S/messages/2")).json()
    page = (await on_server.get("/streams/S/messages", params={"start_time": newer["time"]})).json()
    assert [m["text"] for m in page["messages"]] == ["new"]
    assert second["text"] == "old"


async def test_browsing_a_workqueue_stream_leaves_its_messages_and_consumers_unchanged(
    on_cluster: Any, nats_cluster: Any, allow_direct: bool
) -> None:
    await on_cluster.create_stream(
        "JOBS",
        subjects=["jobs.>"],
        retention="workqueue",
        num_replicas=3,
        allow_direct=allow_direct,
    )
    for i in range(20):
        await publish(on_cluster, "JOBS", "jobs.x", f"job {i}")
    before = (await on_cluster.get("/streams/JOBS")).json()["state"]
    forward = await on_cluster.get("/streams/JOBS/messages", params={"limit": 100})
    backward = await on_cluster.get("/streams/JOBS/messages", params={"direction": "backward"})
    found = await on_cluster.get("/streams/JOBS/messages", params={"q": "job 7"})
    one = await on_cluster.get("/streams/JOBS/messages/3")
    export = await on_cluster.get("/streams/JOBS/messages/export")
    assert [r.status_code for r in (forward, backward, found, one, export)] == [200] * 5
    assert len(forward.json()["messages"]) == 20
    assert [m["text"] for m in found.json()["messages"]] == ["job 7"]
    after = (await on_cluster.get("/streams/JOBS")).json()["state"]
    assert after["messages"] == before["messages"] == 20
    assert after["consumer_count"] == before["consumer_count"] == 0


async def test_a_payload_search_is_bounded_and_continues_from_next_seq(
    on_server: Any, nats_server: Any, monkeypatch: Any
) -> None:
    from shared.messages import services

    monkeypatch.setattr(services, "MAX_SCAN", 100)
    await on_server.create_stream("S", subjects=["s.>"], allow_direct=True)
    await fill(nats_server, "S", 250, payload="plain {}")
    await publish(on_server, "S", "s.x", "the needle")
    first = (await on_server.get("/streams/S/messages", params={"q": "needle"})).json()
    assert first["messages"] == [] and first["scanned"] == 100 and first["next_seq"] == 101
    seq, found = first["next_seq"], []
    while seq is not None:
        page = (
            await on_server.get("/streams/S/messages", params={"q": "needle", "start_seq": seq})
        ).json()
        found += page["messages"]
        seq = page["next_seq"]
    assert [m["seq"] for m in found] == [251]


async def test_headers_round_trip_with_repeated_names_and_binary_payloads_have_no_text(
    on_server: Any, allow_direct: bool
) -> None:
    await on_server.create_stream("S", subjects=["s.>"], allow_direct=allow_direct)
    await publish(
        on_server, "S", "s.a", "hello", headers={"X-Trace": "abc", "X-Tag": ["one", "two"]}
    )
    binary = await on_server.post(
        "/streams/S/messages",
        json={"subject": "s.b", "data": base64.b64encode(b"\xff\x00\xfe").decode()},
    )
    assert binary.status_code == 201
    page = (await on_server.get("/streams/S/messages")).json()["messages"]
    assert page[0]["headers"] == {"X-Trace": "abc", "X-Tag": ["one", "two"]}
    assert page[0]["text"] == "hello" and base64.b64decode(page[0]["data"]) == b"hello"
    assert page[0]["size"] == 5
    assert page[1]["text"] is None and base64.b64decode(page[1]["data"]) == b"\xff\x00\xfe"
    got = (await on_server.get("/streams/S/messages/1")).json()
    assert got["headers"] == page[0]["headers"]


async def test_the_last_message_on_a_subject_and_unknown_sequences(on_server: Any) -> None:
    await on_server.create_stream("S", subjects=["s.>"])
    await publish(on_server, "S", "s.a", "a1")
    await publish(on_server, "S", "s.b", "b1")
    await publish(on_server, "S", "s.a", "a2")
    last = (await on_server.get("/streams/S/messages/last", params={"subject": "s.a"})).json()
    assert last["text"] == "a2" and last["seq"] == 3
    missing = await on_server.get("/streams/S/messages/99")
    assert missing.status_code == 404 and missing.json()["code"] == "message_not_found"


async def test_a_message_is_deleted_with_or_without_erase(on_server: Any) -> None:
    await on_server.create_stream("S", subjects=["s.>"])
    for i in range(3):
        await publish(on_server, "S", "s.a", f"m{i}")
    assert (
        await on_server.delete("/streams/S/messages/1", params={"erase": "true"})
    ).status_code == 204
    assert (await on_server.delete("/streams/S/messages/2")).status_code == 204
    page = (await on_server.get("/streams/S/messages")).json()
    assert [m["seq"] for m in page["messages"]] == [3]
    assert (await on_server.delete("/streams/S/messages/2")).status_code == 404


async def test_publishing_with_a_msg_id_twice_reports_a_duplicate(on_server: Any) -> None:
    await on_server.create_stream("S", subjects=["s.>"])
    first = await publish(on_server, "S", "s.a", "once", headers={"Nats-Msg-Id": "order-1"})
    again = await publish(on_server, "S", "s.a", "once", headers={"Nats-Msg-Id": "order-1"})
    assert first == {"seq": 1, "duplicate": False, "stream": "S"}
    assert again == {"seq": 1, "duplicate": True, "stream": "S"}
    wrong = await on_server.post("/streams/S/messages", json={"subject": "other", "text": "x"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "subject_not_in_stream"


async def test_export_as_ndjson_and_csv(on_server: Any, nats_server: Any) -> None:
    await on_server.create_stream("S", subjects=["s.>"], allow_direct=True)
    await fill(nats_server, "S", 600)
    ndjson = await on_server.get("/streams/S/messages/export")
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in ndjson.text.splitlines()]
    assert [m["seq"] for m in lines] == list(range(1, 601))
    assert lines[5]["text"] == "m5"
    csv_body = await on_server.get(
        "/streams/S/messages/export", params={"format": "csv", "start_seq": 500}
    )
    rows = list(csv.DictReader(io.StringIO(csv_body.text)))
    assert len(rows) == 101 and rows[0]["seq"] == "500" and rows[0]["text"] == "m499"


async def test_an_export_of_100k_messages_runs_in_bounded_memory(
    on_server: Any, nats_server: Any, settings: Any
) -> None:
    import tracemalloc

    from shared.backends import Backends
    from shared.messages.services import export
    from shared.nats import Auth, ConnectionSpec

    await on_server.create_stream("BIG", subjects=["big.>"], allow_direct=True)
    await fill(nats_server, "BIG", 100_000, subject="big.x", payload="message number {:08}")
    backends = Backends.open(settings)
    spec = ConnectionSpec(
        servers=tuple(nats_server.servers),
        auth=Auth(kind="user_password", username=nats_server.user, password=nats_server.password),
    )
    client = await backends.nats.client("big", spec)
    lines = total = 0
    tracemalloc.start()
    try:
        async for chunk in await export(client, "BIG"):
            lines += chunk.count(b"\n")
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await backends.close()
    assert lines == 100_000
    assert total > 15_000_000  # the export itself is far larger than...
    assert peak < 8_000_000  # ...what it ever holds at once


async def test_tail_streams_new_messages_as_server_sent_events_until_the_client_leaves(
    on_server: Any, served_app: str
) -> None:
    import httpx

    await on_server.create_stream("S", subjects=["s.>"], allow_direct=True)
    await publish(on_server, "S", "s.a", "before")
    received: list[dict[str, Any]] = []
    subscribed = asyncio.Event()

    async def listen() -> None:
        async with (
            httpx.AsyncClient(base_url=served_app, timeout=10) as http,
            http.stream(
                "GET",
                on_server.base + "/streams/S/messages/tail",
                params={"subject": "s.*"},
                headers=on_server.viewer,
            ) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            subscribed.set()  # the tail is in place once the response has begun
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    received.append(json.loads(line[5:]))
                    if len(received) == 2:
                        return  # the client goes away; the server's loop must end

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(subscribed.wait(), 10)
    await publish(on_server, "S", "s.a", "one")
    await publish(on_server, "S", "s.b", "two")
    await asyncio.wait_for(listener, 10)
    assert [m["text"] for m in received] == ["one", "two"]


async def test_viewers_read_messages_but_only_editors_publish_or_delete(on_server: Any) -> None:
    await on_server.create_stream("S", subjects=["s.>"])
    await publish(on_server, "S", "s.a", "hello")
    assert (
        await on_server.get("/streams/S/messages/1", headers=on_server.viewer)
    ).status_code == 200
    publishing = await on_server.post(
        "/streams/S/messages", json={"subject": "s.a", "text": "x"}, headers=on_server.viewer
    )
    deleting = await on_server.delete("/streams/S/messages/1", headers=on_server.viewer)
    assert (publishing.status_code, deleting.status_code) == (403, 403)


async def test_a_start_time_that_is_not_rfc3339_is_a_400(on_server: Any) -> None:
    await on_server.create_stream("S", subjects=["s.>"])
    for bad in ("yesterday", "2026-01-31", "2026-01-31T12:00:00"):
        response = await on_server.get("/streams/S/messages", params={"start_time": bad})
        assert response.status_code == 400, bad
        assert response.json()["code"] == "invalid_start_time"
