"""The message browser's pages, signed in with the session cookie: one message in every
format, publish with repeated headers, delete and erase, the export and the live tail."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from html import unescape
from typing import Any

import cbor2
import httpx
import msgpack
import pytest

from services.web.messages import RateCap, local_to_utc
from shared.audit.trail import list_events
from tests.fixtures.accounts import csrf_token, web_login

HTML = {"Accept": "text/html"}
STREAM = "/orgs/acme/clusters/main/streams/S"


async def publish(
    api: Any, subject: str, body: bytes, headers: dict[str, Any] | None = None
) -> int:
    response = await api.post(
        "/streams/S/messages",
        json={
            "subject": subject,
            "data": base64.b64encode(body).decode(),
            **({"headers": headers} if headers else {}),
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["seq"])


async def signed_in(client: Any, role: str = "viewer") -> str:
    """Signs the test client in as `<role>@acme.test`; returns the session's CSRF token."""
    assert (await web_login(client, f"{role}@acme.test")).status_code == 303
    return csrf_token((await client.get("/orgs/acme", headers=HTML)).text)


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


@pytest.fixture
async def stream(on_server: Any) -> Any:
    await on_server.create_stream("S", subjects=["s.>"])
    return on_server


async def test_a_json_message_shows_pretty_collapsible_coloured_json_and_marks_nats_headers(
    client, stream
) -> None:
    seq = await publish(
        stream,
        "s.orders",
        b'{"order": 7, "items": [{"sku": "a<b"}], "ok": true}',
        {"Nats-Msg-Id": "o-7", "Trace": ["t1", "t2"]},
    )
    await signed_in(client)
    page = await client.get(f"{STREAM}/messages/{seq}", headers=HTML)
    assert page.status_code == 200, page.text
    html = page.text
    assert '<details open class="json-block"' in html
    assert '<span class="json-key">&#34;sku&#34;</span>' in html
    assert '<span class="json-string">&#34;a&lt;b&#34;</span>' in html  # escaped
    assert '<span class="json-bool">true</span>' in html
    assert re.search(r'<tr class="nats-header">\s*<th scope="row" class="mono">Nats-Msg-Id', html)
    assert html.count(">Trace</th>") == 2  # a repeated header keeps both values
    assert f"nats stream get S {seq}" in html
    assert 'aria-current="page">JSON <span class="muted">(detected)' in html


async def test_binary_shows_a_hex_dump_and_a_failing_decoder_says_why(client, stream) -> None:
    seq = await publish(stream, "s.bin", bytes(range(0, 40)))
    await signed_in(client)
    html = (await client.get(f"{STREAM}/messages/{seq}", headers=HTML)).text
    assert '<pre class="hex"' in html
    assert "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|" in html
    as_json = (await client.get(f"{STREAM}/messages/{seq}?format=json", headers=HTML)).text
    assert "does not decode as json" in as_json
    assert "UnicodeDecodeError" in text_of(as_json) or "JSONDecodeError" in text_of(as_json)
    b64 = (await client.get(f"{STREAM}/messages/{seq}?format=base64", headers=HTML)).text
    assert base64.b64encode(bytes(range(40))).decode() in b64


async def test_messagepack_and_cbor_are_decoded_to_json(client, stream) -> None:
    packed = await publish(stream, "s.mp", msgpack.packb({"kind": "mp", "n": [1, 2]}))
    cbored = await publish(stream, "s.cb", cbor2.dumps({"kind": "cbor", "when": 3}))
    await signed_in(client)
    mp = (await client.get(f"{STREAM}/messages/{packed}", headers=HTML)).text
    assert 'aria-current="page">MessagePack <span class="muted">(detected)' in mp
    assert '<span class="json-string">&#34;mp&#34;</span>' in mp
    cb = (await client.get(f"{STREAM}/messages/{cbored}", headers=HTML)).text
    assert 'aria-current="page">CBOR <span class="muted">(detected)' in cb
    assert '<span class="json-string">&#34;cbor&#34;</span>' in cb


async def test_a_message_over_64_kib_shows_its_start_until_the_whole_is_asked_for(
    client, stream
) -> None:
    body = ("x" * 99 + "\n") * 1000 + "THE-END"  # ~100 KB of text
    seq = await publish(stream, "s.big", body.encode())
    await signed_in(client)
    part = (await client.get(f"{STREAM}/messages/{seq}", headers=HTML)).text
    assert "Showing the first 64.0 KiB of 97.7 KiB" in part
    assert "THE-END" not in part
    assert f'href="{STREAM}/messages/{seq}?full=1"' in part
    whole = (await client.get(f"{STREAM}/messages/{seq}?full=1", headers=HTML)).text
    assert "THE-END" in whole
    assert "Showing the first" not in whole


async def test_publish_with_repeated_headers_and_a_message_id_reads_back_the_same(
    client, stream
) -> None:
    token = await signed_in(client, "editor")
    form = await client.get(f"{STREAM}/messages/publish", headers=HTML)
    assert form.status_code == 200
    assert form.text.count('name="header_name"') == 3  # rows to fill without JavaScript
    data = {
        "csrf_token": token,
        "subject": "s.pub",
        "header_name": ["Tag", "Tag", ""],
        "header_value": ["one", "two", ""],
        "encoding": "json",
        "payload": '{"hello": "world"}',
        "msg_id": "pub-1",
    }
    answer = await client.post(f"{STREAM}/messages/publish", data=data, headers=HTML)
    assert answer.status_code == 200, answer.text
    match = re.search(r"Published as <a href=\"[^\"]+/messages/(\d+)\">seq (\d+)</a>", answer.text)
    assert match is not None, answer.text
    seq = int(match.group(1))
    stored = (await stream.get(f"/streams/S/messages/{seq}")).json()
    assert stored["headers"] == {"Tag": ["one", "two"], "Nats-Msg-Id": "pub-1"}
    assert json.loads(stored["text"]) == {"hello": "world"}
    again = await client.post(f"{STREAM}/messages/publish", data=data, headers=HTML)
    assert "already has a message with this message id (duplicate)" in again.text
    # Republish fills the form from the message, headers and all.
    refill = (await client.get(f"{STREAM}/messages/publish?from_seq={seq}", headers=HTML)).text
    assert refill.count('name="header_name" value="Tag"') == 2
    assert 'name="msg_id" type="text" value="pub-1"' in refill
    assert "&#34;hello&#34;: &#34;world&#34;" in refill


async def test_publish_refusals_show_beside_the_form_with_what_was_typed(client, stream) -> None:
    token = await signed_in(client, "editor")
    bad_json = await client.post(
        f"{STREAM}/messages/publish",
        data={"csrf_token": token, "subject": "s.x", "encoding": "json", "payload": "{nope"},
        headers=HTML,
    )
    assert bad_json.status_code == 422
    assert "The payload is not valid JSON" in bad_json.text
    assert "{nope</textarea>" in bad_json.text
    elsewhere = await client.post(
        f"{STREAM}/messages/publish",
        data={"csrf_token": token, "subject": "other.x", "encoding": "text", "payload": "hi"},
        headers=HTML,
    )
    assert elsewhere.status_code == 422
    assert "does not take subject" in text_of(elsewhere.text)


async def test_a_viewer_may_not_publish_or_delete(client, stream) -> None:
    seq = await publish(stream, "s.a", b"keep")
    token = await signed_in(client)
    page = (await client.get(f"{STREAM}/messages/{seq}", headers=HTML)).text
    assert "Delete message" not in page and "Republish" not in page
    refused = await client.post(
        f"{STREAM}/messages/{seq}/delete",
        data={"csrf_token": token, "confirm": str(seq)},
        headers=HTML,
    )
    assert refused.status_code == 403
    assert (await stream.get(f"/streams/S/messages/{seq}")).status_code == 200


async def test_delete_and_secure_erase_need_the_sequence_typed_and_are_audited(
    client, stream, accounts
) -> None:
    first = await publish(stream, "s.a", b"one")
    second = await publish(stream, "s.a", b"two")
    token = await signed_in(client, "editor")
    unconfirmed = await client.post(
        f"{STREAM}/messages/{first}/delete",
        data={"csrf_token": token, "confirm": "nope"},
        headers=HTML,
    )
    assert unconfirmed.status_code == 400
    assert (await stream.get(f"/streams/S/messages/{first}")).status_code == 200
    for seq, mode in ((first, "delete"), (second, "erase")):
        done = await client.post(
            f"{STREAM}/messages/{seq}/delete",
            data={"csrf_token": token, "confirm": str(seq), "mode": mode},
            headers=HTML,
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"] == f"{STREAM}?tab=messages"
        assert (await stream.get(f"/streams/S/messages/{seq}")).status_code == 404
    org = await accounts.make_org("acme")
    events = (await list_events(accounts.db, org.id, action="message.delete")).items
    assert sorted(e.target for e in events) == [f"message:S/{first}", f"message:S/{second}"]
    assert {e.actor.label for e in events} == {"editor@acme.test"}


async def test_the_export_streams_the_filter_as_ndjson_or_csv_for_the_session(
    client, stream
) -> None:
    for i in range(6):
        await publish(stream, f"s.{'a' if i % 2 else 'b'}", f"m{i}".encode())
    await signed_in(client)
    ndjson = await client.get(
        f"{STREAM}/messages/export", params={"format": "ndjson", "subject": "s.a", "start_seq": 3}
    )
    assert ndjson.status_code == 200, ndjson.text
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    assert 'filename="S.ndjson"' in ndjson.headers["content-disposition"]
    lines = [json.loads(line) for line in ndjson.text.splitlines()]
    assert [(m["seq"], m["text"]) for m in lines] == [(4, "m3"), (6, "m5")]
    as_csv = await client.get(f"{STREAM}/messages/export", params={"format": "csv", "q": "m1"})
    assert as_csv.text.splitlines()[0] == "seq,subject,time,size,headers,data,text"
    assert len(as_csv.text.splitlines()) == 2
    # The API's export takes bearer tokens only, not the cookie: hence this route.
    api = await client.get(
        f"/api/v1{STREAM}/messages/export", headers={"Accept": "application/json"}
    )
    assert api.status_code == 401


async def test_the_live_tail_sends_new_rows_for_the_subject_filter_and_ends_with_the_stream(
    settings, served_app, make_user, stream
) -> None:
    await make_user("viewer@acme.test", org_slug="acme", role="viewer")
    events: list[tuple[str, Any]] = []
    ready, got_row = asyncio.Event(), asyncio.Event()

    async def listen() -> None:
        async with httpx.AsyncClient(base_url=served_app, timeout=10) as http:
            assert (await web_login(http, "viewer@acme.test")).status_code == 303
            async with http.stream(
                "GET", f"{STREAM}/messages/tail", params={"subject": "s.want.*"}
            ) as response:
                assert response.status_code == 200, await response.aread()
                assert response.headers["content-type"].startswith("text/event-stream")
                event = "message"
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        events.append((event, json.loads(line[5:])))
                        if event == "ready":
                            ready.set()
                        elif event == "row":
                            got_row.set()
                        elif event == "end":
                            return

    listener = asyncio.create_task(listen())
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await publish(stream, "s.other", b"not this one")
        seq = await publish(stream, "s.want.x", b'{"n": 1}', {"H": "v"})
        await asyncio.wait_for(got_row.wait(), 10)
        assert (await stream.delete("/streams/S")).status_code == 204
        await asyncio.wait_for(listener, 10)
    finally:
        if not listener.done():
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
    rows = [data for kind, data in events if kind == "row"]
    assert [(r["seq"], r["subject"], r["headers"], r["preview"]) for r in rows] == [
        (seq, "s.want.x", 1, '{"n":1}')
    ]
    assert rows[0]["url"] == f"{STREAM}/messages/{seq}"
    assert events[-1] == ("end", {"reason": "stream_deleted"})


# ---- the Messages tab -----------------------------------------------------------------------


def seqs(html: str) -> list[int]:
    """The sequence numbers of the tab's rows, in order."""
    return [int(s) for s in re.findall(r'<td><a href="[^"]+/messages/(\d+)">', html)]


def link(html: str, rel: str) -> str | None:
    match = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return unescape(match.group(1)) if match else None


async def tab(client: Any, **params: Any) -> str:
    response = await client.get(STREAM, params={"tab": "messages", **params}, headers=HTML)
    assert response.status_code == 200, response.text
    return response.text


async def fill(api: Any, count: int) -> None:
    for i in range(1, count + 1):
        await publish(api, f"s.{'even' if i % 2 == 0 else 'odd'}.{i}", f'{{"n": {i}}}'.encode())


async def test_the_tab_seeks_first_last_and_a_sequence_and_pages_both_ways(client, stream) -> None:
    await fill(stream, 45)
    await signed_in(client)
    first = await tab(client, limit=20)
    assert seqs(first) == list(range(1, 21))
    assert link(first, "prev") is None
    newer = link(first, "next")
    assert newer is not None and "seek=seq" in newer and "seq=21" in newer and "limit=20" in newer
    second = (await client.get(newer, headers=HTML)).text
    assert seqs(second) == list(range(21, 41))
    back = link(second, "prev")
    assert back is not None and "seek=before" in back and "seq=20" in back
    assert seqs((await client.get(back, headers=HTML)).text) == list(range(1, 21))
    last = await tab(client, seek="last", limit=20)
    assert seqs(last) == list(range(26, 46))
    assert link(last, "next") is None
    at = await tab(client, seek="seq", seq=30, limit=20)
    assert seqs(at)[:2] == [30, 31]
    # Rows: local time with UTC as fallback and on hover, subject, size, headers, preview.
    assert re.search(r'<time datetime="[^"]+Z" title="[^"]+Z" data-epoch-ms="\d+">', first)
    assert "s.odd.1" in first and '{"n":1}' in unescape(first)


async def test_the_tab_seeks_by_time_both_typed_in_local_time_and_ago(client, stream) -> None:
    await fill(stream, 5)
    await signed_in(client)
    ago = await tab(client, seek="time", time="1h")
    assert seqs(ago) == [1, 2, 3, 4, 5]
    future = await tab(client, seek="time", time="2099-01-01T00:00")
    assert seqs(future) == []
    assert link(future, "prev") is not None  # a time after the newest: older ones are linked
    # 00:00 at UTC+14 (getTimezoneOffset() = -840) is 10:00 the day before, UTC.
    zoned = await tab(client, seek="time", time="2099-01-02T00:00", tz="-840")
    assert seqs(zoned) == []
    assert "2099-01-01T10:00:00" in unescape(zoned)
    bad = await tab(client, seek="time", time="yesterday-ish")
    assert 'role="alert"' in bad and seqs(bad) == []


async def test_the_tab_filters_by_wildcard_subject_and_searches_payloads(
    client, stream, monkeypatch
) -> None:
    await fill(stream, 30)
    await signed_in(client)
    even = await tab(client, subject="s.even.*")
    assert seqs(even) == list(range(2, 31, 2))
    assert link(even, "next") is None
    found = await tab(client, q='"n": 17}')
    assert seqs(found) == [17]
    assert "scanned 30 messages" in found
    import services.web.messages as web_messages

    monkeypatch.setattr(web_messages, "SEARCH_SCAN", 10)
    bounded = await tab(client, q='"n": 27}')
    assert seqs(bounded) == []
    assert "scanned 10 messages" in bounded
    more = re.search(r'<a href="([^"]+)" data-search-continue[^>]*>continue</a>', bounded)
    assert more is not None
    url = unescape(more.group(1))
    assert "seq=11" in url and "q=" in url
    hops = 0
    while seqs(page := (await client.get(url, headers=HTML)).text) != [27] and hops < 5:
        more = re.search(r'<a href="([^"]+)" data-search-continue', page)
        assert more is not None
        url, hops = unescape(more.group(1)), hops + 1
    assert seqs(page) == [27]


async def test_the_tab_links_the_session_export_and_for_editors_publish(client, stream) -> None:
    await fill(stream, 3)
    await signed_in(client)
    viewer = await tab(client, subject="s.odd.*")
    assert f'href="{STREAM}/messages/export?format=ndjson&amp;subject=s.odd.%2A"' in viewer
    assert "Publish a message" not in viewer
    assert f'data-tail="{STREAM}/messages/tail?subject=s.odd.%2A"' in viewer
    client.cookies.clear()
    await signed_in(client, "editor")
    assert f'href="{STREAM}/messages/publish"' in await tab(client)


@pytest.mark.parametrize("retention", ["workqueue", "interest"])
async def test_browsing_a_workqueue_or_interest_stream_without_direct_get_leaves_it_as_it_was(
    client, on_server, retention
) -> None:
    await on_server.create_stream("S", subjects=["s.>"], retention=retention, allow_direct=False)
    consumer = await on_server.post(
        "/streams/S/consumers", json={"durable_name": "C", "ack_policy": "explicit"}
    )
    assert consumer.status_code == 201, consumer.text
    await fill(on_server, 12)
    await signed_in(client)
    assert seqs(await tab(client, limit=20)) == list(range(1, 13))
    assert seqs(await tab(client, seek="last", limit=20)) == list(range(1, 13))
    assert "read with MSG.GET" in await tab(client)
    assert (await client.get(f"{STREAM}/messages/5", headers=HTML)).status_code == 200
    info = (await on_server.get("/streams/S")).json()
    assert info["state"]["messages"] == 12
    c = (await on_server.get("/streams/S/consumers/C")).json()
    assert c["num_pending"] == 12 and c["delivered"]["stream_seq"] == 0


async def test_a_tail_the_browser_leaves_is_closed_so_it_never_counts_against_the_cap(
    settings, served_app, make_user, stream
) -> None:
    """Eleven tails one after another, each left after its first event: with the default cap
    of 10 a user's tails, the eleventh would be refused if the server had not noticed."""
    await make_user("viewer@acme.test", org_slug="acme", role="viewer")
    async with httpx.AsyncClient(base_url=served_app, timeout=10) as http:
        assert (await web_login(http, "viewer@acme.test")).status_code == 303
        for _ in range(settings.messages.tails_per_user + 1):
            for _attempt in range(40):  # the server closes a left tail soon, not at once
                async with http.stream("GET", f"{STREAM}/messages/tail") as response:
                    if response.status_code == 429:
                        await response.aread()
                        await asyncio.sleep(0.25)
                        continue
                    assert response.status_code == 200, await response.aread()
                    async for line in response.aiter_lines():
                        if line.startswith("event:"):
                            assert line[6:].strip() == "ready"
                            break
                    break
            else:
                raise AssertionError("tails left by the browser were never closed")


def test_the_tail_sends_at_most_its_rate_a_second_and_counts_the_rest() -> None:
    now = [100.0]
    cap = RateCap(3, clock=lambda: now[0])
    assert [cap.allow() for _ in range(5)] == [True, True, True, False, False]
    now[0] += 0.5
    assert not cap.allow()  # the same second
    now[0] += 0.5
    assert [cap.allow() for _ in range(4)] == [True, True, True, False]


def test_a_local_date_time_is_turned_to_utc_with_the_browsers_offset() -> None:
    assert local_to_utc("2026-03-01T12:00", "-60") == "2026-03-01T11:00:00.000000Z"
    assert local_to_utc("2026-03-01T12:00:30", "300") == "2026-03-01T17:00:30.000000Z"
    assert local_to_utc("2026-03-01T12:00", None) == "2026-03-01T12:00"  # no JS: UTC later
    assert local_to_utc("1h", "-60") == "1h"  # relative times need no zone
