"""The Messages tab's pages on a real nats-server: every retention policy, with and without
direct get, seeking, paging both ways, filtering, searching; and never a change to the stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.errors import Invalid, NotFound
from shared.messages.browser import (
    PAGE_PAYLOAD_BYTES,
    Position,
    message_page,
    message_view,
    parse_position,
    parse_time,
)
from shared.messages.reader import stream_facts
from shared.nats import ClusterClient, ConnectionPool

KINDS = [
    ("limits", True),
    ("limits", False),
    ("workqueue", True),
    ("workqueue", False),
    ("interest", True),
    ("interest", False),
]


@pytest.fixture
async def client(nats_server: Any) -> AsyncIterator[ClusterClient]:
    pool = ConnectionPool(timeout=5, connect_timeout=2)
    spec = nats_server.spec()
    yield await pool.client("browse", spec, label="browse")
    await pool.close()


async def make_stream(nc: Any, retention: str, allow_direct: bool) -> Any:
    js = nc.jetstream()
    await js.add_stream(
        name="ORDERS",
        subjects=["orders.>"],
        retention=retention,
        allow_direct=allow_direct,
        storage="memory",
    )
    if retention != "limits":  # a consumer that has not fetched: the messages stay
        await js.add_consumer("ORDERS", durable_name="BILLING", ack_policy="explicit")
    return js


async def fill(js: Any, first: int, last: int) -> None:
    for i in range(first, last + 1):
        region = "eu" if i % 3 else "us"
        await js.publish(f"orders.{region}.new", json.dumps({"order": i}).encode())


async def settled_counts(js: Any) -> tuple[int, int, int, int]:
    """`counts` once the consumer's pending count has caught up with the stream (NATS updates
    it just after a publish is acknowledged, so a loaded machine can read it one short)."""
    for _ in range(100):
        now = await counts(js)
        if now[2] in (-1, now[0]):
            return now
        await asyncio.sleep(0.05)
    raise AssertionError(f"the consumer's pending count never caught up: {now}")


async def counts(js: Any) -> tuple[int, int, int, int]:
    info = await js.stream_info("ORDERS")
    consumer = await js.consumer_info("ORDERS", "BILLING") if info.state.consumer_count else None
    return (
        info.state.messages,
        info.state.consumer_count,
        consumer.num_pending if consumer else -1,
        consumer.delivered.stream_seq if consumer else -1,
    )


@pytest.mark.parametrize(("retention", "allow_direct"), KINDS)
async def test_browsing_forward_backward_and_by_time_leaves_the_stream_unchanged(
    nats_server: Any, client: ClusterClient, retention: str, allow_direct: bool
) -> None:
    nc = await nats_server.connect()
    js = await make_stream(nc, retention, allow_direct)
    await fill(js, 1, 30)
    await asyncio.sleep(0.05)  # the second batch is stamped strictly later
    await fill(js, 31, 45)
    before = await settled_counts(js)

    first = await message_page(client, "ORDERS", Position("first"), limit=20)
    assert [r.seq for r in first.rows] == list(range(1, 21))
    assert first.prev is None and first.next == Position("seq", seq=21)
    assert first.rows[0].preview == '{"order":1}' and first.rows[0].preview_format == "json"
    assert first.rows[0].subject == "orders.eu.new" and first.rows[0].size == 12
    assert first.rows[0].epoch_ms is not None and first.rows[0].time is not None
    following = await message_page(client, "ORDERS", first.next, limit=20)
    assert [r.seq for r in following.rows] == list(range(21, 41))
    assert following.prev == Position("before", seq=20)
    back = await message_page(client, "ORDERS", following.prev, limit=20)
    assert [r.seq for r in back.rows] == list(range(1, 21))
    assert back.prev is None and back.next == Position("seq", seq=21)
    last = await message_page(client, "ORDERS", Position("last"), limit=20)
    assert [r.seq for r in last.rows] == list(range(26, 46))
    assert last.next is None and last.prev == Position("before", seq=25)

    stamp = (await message_view(client, "ORDERS", 31)).time
    assert stamp is not None
    by_time = await message_page(client, "ORDERS", parse_position("time", time=stamp), limit=5)
    assert [r.seq for r in by_time.rows] == [31, 32, 33, 34, 35]
    hour_ago = await message_page(client, "ORDERS", parse_position("time", time="1h ago"))
    assert hour_ago.rows[0].seq == 1
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    future = await message_page(client, "ORDERS", Position("time", time=tomorrow))
    assert future.rows == [] and future.next is None
    assert future.prev == Position("before", seq=45)

    assert await counts(js) == before
    await nc.close()


@pytest.mark.parametrize("allow_direct", [True, False])
async def test_a_read_beside_the_info_request_pages_as_a_read_after_it(
    nats_server: Any, client: ClusterClient, allow_direct: bool
) -> None:
    # The stream page asks STREAM.INFO and starts the read at once (as direct gets); a stream
    # without them is read again once the INFO says so. Either way: the same page and links.
    nc = await nats_server.connect()
    js = await make_stream(nc, "limits", allow_direct)
    await fill(js, 1, 30)
    positions = [
        Position("first"),
        Position("seq", seq=11),
        Position("seq", seq=21),  # a full page ending at the last message: no "newer"
        Position("seq", seq=25),
        Position("seq", seq=99),
        Position("last"),
        Position("before", seq=12),
        parse_position("time", time="1h ago"),
    ]
    for position in positions:
        for q in (None, "order"):
            known = await stream_facts(client, "ORDERS")
            after = await message_page(client, "ORDERS", position, q=q, limit=10, facts=known)
            beside = await message_page(
                client,
                "ORDERS",
                position,
                q=q,
                limit=10,
                facts_later=stream_facts(client, "ORDERS"),
            )
            assert beside == after, position
    with pytest.raises(NotFound):  # an unknown stream: the INFO's answer, not the read's
        await message_page(
            client, "NOPE", Position("first"), facts_later=stream_facts(client, "NOPE")
        )
    await nc.close()


async def test_a_wildcard_subject_filter_pages_only_its_messages(
    nats_server: Any, client: ClusterClient
) -> None:
    nc = await nats_server.connect()
    js = await make_stream(nc, "limits", False)
    await fill(js, 1, 30)
    page = await message_page(client, "ORDERS", Position("first"), subject="orders.*.new", limit=5)
    assert [r.seq for r in page.rows] == [1, 2, 3, 4, 5]
    us = await message_page(client, "ORDERS", Position("first"), subject="orders.us.>", limit=4)
    assert [r.seq for r in us.rows] == [3, 6, 9, 12] and us.next == Position("seq", seq=13)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    field = await message_page(client, "ORDERS", parse_position("time", time=an_hour_ago))
    assert field.rows[0].seq == 1  # a date-time field's value (no seconds, no zone) works
    newest_us = await message_page(
        client, "ORDERS", Position("last"), subject="orders.us.*", limit=3
    )
    assert [r.seq for r in newest_us.rows] == [24, 27, 30]
    await nc.close()


async def test_a_search_reports_what_it_scanned_and_where_to_continue(
    nats_server: Any, client: ClusterClient
) -> None:
    nc = await nats_server.connect()
    js = await make_stream(nc, "limits", True)
    await fill(js, 1, 60)
    found = await message_page(client, "ORDERS", Position("first"), q='"order": 42}', limit=10)
    assert [r.seq for r in found.rows] == [42]
    assert found.search is not None and not found.search.bounded
    bounded = await message_page(
        client, "ORDERS", Position("first"), q='"order": 55}', limit=10, max_scan=20
    )
    assert bounded.rows == []
    assert bounded.search is not None and bounded.search.bounded
    assert (bounded.search.scanned, bounded.search.continue_seq) == (20, 21)
    assert bounded.search.continue_at == Position("seq", seq=21)
    resumed = await message_page(
        client, "ORDERS", Position("seq", seq=41), q='"order": 55}', limit=10, max_scan=20
    )
    assert [r.seq for r in resumed.rows] == [55]
    await nc.close()


async def test_a_page_holding_a_big_message_keeps_16_kib_of_payload(
    nats_server: Any, client: ClusterClient
) -> None:
    nc = await nats_server.connect()
    js = nc.jetstream()
    await js.add_stream(name="BIG", subjects=["big"], storage="memory", max_msg_size=-1)
    big = json.dumps({"blob": "x" * (900 * 1024)}).encode()  # under max_payload (1 MiB)
    await js.publish("big", b'{"small": true}')
    await js.publish("big", big)
    await js.publish("big", bytes(range(256)) * 40)
    page = await message_page(client, "BIG", Position("first"), limit=50)
    assert [r.size for r in page.rows] == [15, len(big), 10240]
    assert page.payload_bytes <= PAGE_PAYLOAD_BYTES
    assert page.rows[1].preview.startswith('{"blob": "xxx') and len(page.rows[1].preview) <= 120
    assert page.rows[2].preview_format == "hex"

    view = await message_view(client, "BIG", 2)
    assert view.payload.truncated and view.payload.size == len(big)
    assert view.payload.shown == 64 * 1024 and view.payload.detected == "text"
    whole = await message_view(client, "BIG", 2, full=True)
    assert not whole.payload.truncated and whole.payload.detected == "json"
    binary = await message_view(client, "BIG", 3)
    assert binary.payload.detected == "hex" and binary.command == "nats stream get BIG 3"
    await nc.close()


async def test_a_message_view_marks_nats_headers_and_keeps_repeats(
    nats_server: Any, client: ClusterClient
) -> None:
    nc = await nats_server.connect()
    js = nc.jetstream()
    await js.add_stream(name="H", subjects=["h"], storage="memory")
    await nc.publish(
        "h",
        b"x",
        headers={"Nats-Msg-Id": "m-1", "X-Tag": "one"},
    )
    await nc.flush()
    for _ in range(50):
        if (await js.stream_info("H")).state.messages:
            break
        await asyncio.sleep(0.02)
    view = await message_view(client, "H", 1)
    assert [(h.name, h.nats) for h in view.headers] == [("Nats-Msg-Id", True), ("X-Tag", False)]
    page = await message_page(client, "H", Position("first"))
    assert page.rows[0].headers == 2
    await nc.close()


def test_positions_parse_from_the_url_and_refuse_nonsense() -> None:
    assert parse_position() == Position("first")
    assert parse_position("last") == Position("last")
    assert parse_position(None, "12") == Position("seq", seq=12)
    assert parse_position("before", 7).query() == {"seek": "before", "seq": "7"}
    assert parse_time("2026-01-31T12:00") == "2026-01-31T12:00:00Z"
    assert parse_time("2026-01-31T12:00:05.5") == "2026-01-31T12:00:05.5Z"
    assert parse_time("2026-01-31T12:00:00+01:00") == "2026-01-31T12:00:00+01:00"
    for bad in (
        ("seq", "x", None),
        ("seq", "0", None),
        ("time", None, "noon"),
        ("time", None, "2999-01-01T00:00:00Z"),
        ("up", None, None),
    ):
        with pytest.raises(Invalid):
            parse_position(*bad)
