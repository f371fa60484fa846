"""Tails share one poller per stream and filter, fan out to every subscriber, are capped per
user and per process, end when their stream is deleted, and never let a slow subscriber hold
more than its queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared import errors
from shared.messages.tails import TailEvent, TailHub, TailSubscription
from shared.nats import ClusterClient, ConnectionPool


@pytest.fixture(params=[True, False], ids=["direct-get", "msg-get"])
async def stream(request: Any, nats_server: Any) -> AsyncIterator[tuple[ClusterClient, Any]]:
    nc = await nats_server.connect()
    js = nc.jetstream()
    await js.add_stream(name="T", subjects=["t.>"], allow_direct=request.param)
    await js.publish("t.a", b"before")  # not tailed: stored before the tail began
    pool = ConnectionPool(timeout=5)
    spec = nats_server.spec()
    yield await pool.client("t", spec), js
    await pool.close()
    await nc.close()


async def take(sub: TailSubscription, count: int) -> list[TailEvent]:
    events: list[TailEvent] = []

    async def read() -> None:
        async for event in sub:
            events.append(event)
            if len(events) == count or event.kind == "end":
                return

    await asyncio.wait_for(read(), 10)
    return events


def texts(events: list[TailEvent]) -> list[str]:
    return [e.message.text or "" for e in events if e.message is not None]


async def test_tails_of_one_stream_and_filter_share_one_poller_and_each_get_every_message(
    stream,
) -> None:
    client, js = stream
    hub = TailHub(poll_seconds=0.05)
    first = await hub.subscribe(client, "T", subject="t.a", user="u1")
    second = await hub.subscribe(client, "T", subject="t.a", user="u2")
    other = await hub.subscribe(client, "T", subject="t.b", user="u1")
    assert (hub.pollers, hub.open_tails) == (2, 3)

    for text in ("one", "two"):
        await js.publish("t.a", text.encode())
    await js.publish("t.b", b"bee")

    assert texts(await take(first, 2)) == ["one", "two"]
    assert texts(await take(second, 2)) == ["one", "two"]
    assert texts(await take(other, 1)) == ["bee"]
    first.close()
    assert hub.pollers == 2
    second.close()
    other.close()
    await asyncio.sleep(0)
    assert (hub.pollers, hub.open_tails) == (0, 0)
    await hub.close()


async def test_tails_are_capped_per_user_and_per_process_with_a_clear_429(stream) -> None:
    client, _ = stream
    hub = TailHub(per_user=2, per_process=3)
    subs = [await hub.subscribe(client, "T", user="u1") for _ in range(2)]
    with pytest.raises(errors.RateLimited) as per_user:
        await hub.subscribe(client, "T", user="u1")
    subs.append(await hub.subscribe(client, "T", user="u2"))
    with pytest.raises(errors.RateLimited) as per_process:
        await hub.subscribe(client, "T", user="u3")
    subs.pop().close()
    subs.append(await hub.subscribe(client, "T", user="u3"))  # room again
    for sub in subs:
        sub.close()
    await hub.close()
    assert per_user.value.code == "too_many_tails"
    assert "JETDECK_MESSAGES_TAILS_PER_USER" in per_user.value.detail
    assert "JETDECK_MESSAGES_TAILS_PER_PROCESS" in per_process.value.detail


async def test_a_tail_of_a_deleted_stream_ends_saying_so(stream) -> None:
    client, js = stream
    hub = TailHub(poll_seconds=0.05)
    sub = await hub.subscribe(client, "T", user="u1")
    await js.publish("t.a", b"last")
    await js.delete_stream("T")

    events = await take(sub, 10)
    sub.close()
    await hub.close()
    assert events[-1] == TailEvent("end", reason="stream_deleted")
    assert hub.pollers == 0


async def test_a_tail_of_an_unknown_stream_is_not_found_and_holds_no_slot(stream) -> None:
    client, _ = stream
    hub = TailHub(per_user=1)
    with pytest.raises(errors.NotFound):
        await hub.subscribe(client, "NOPE", user="u1")
    sub = await hub.subscribe(client, "T", user="u1")
    sub.close()
    await hub.close()
    assert hub.open_tails == 0


async def test_a_slow_subscriber_keeps_its_queue_and_is_told_how_many_it_missed(stream) -> None:
    client, js = stream
    hub = TailHub(poll_seconds=0.05, queue=3)
    slow = await hub.subscribe(client, "T", user="u1")
    fast = await hub.subscribe(client, "T", user="u2", queue=100)
    for i in range(10):
        await js.publish("t.a", f"m{i}".encode())
    assert len(texts(await take(fast, 10))) == 10  # the poller went on regardless

    events = await take(slow, 4)
    slow.close()
    fast.close()
    await hub.close()
    assert events[0] == TailEvent("skipped", skipped=7)
    assert texts(events[1:]) == ["m7", "m8", "m9"]


async def test_a_quiet_tail_sends_heartbeats_between_messages(stream) -> None:
    client, js = stream
    hub = TailHub(poll_seconds=0.05, heartbeat_seconds=0.05)
    sub = await hub.subscribe(client, "T", user="u1")
    first = await take(sub, 1)
    await js.publish("t.a", b"after")
    events: list[TailEvent] = []
    async for event in sub:  # bounded: the message comes within the poll interval
        events.append(event)
        if event.kind == "message" or len(events) > 200:
            break
    sub.close()
    await hub.close()
    assert first == [TailEvent("heartbeat")]
    assert texts(events) == ["after"]
