"""The message browser in a real browser: a viewer reads a WorkQueue stream every way the tab
offers without consuming it, and opens a JSON, a binary and a 1 MiB message; an editor
publishes with repeated headers and watches the live tail."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import pytest

from tests.services.web.browser import assert_accessible, screenshot

STREAM = "/orgs/acme/clusters/main/streams/WQ"


async def publish(
    api: Any, subject: str, body: bytes, headers: dict[str, Any] | None = None
) -> int:
    response = await api.post(
        "/streams/WQ/messages",
        json={
            "subject": subject,
            "data": base64.b64encode(body).decode(),
            **({"headers": headers} if headers else {}),
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["seq"])


async def row_seqs(page: Any, first: int | None = None) -> list[int]:
    """The rows' sequence numbers, once the first row is `first` (an htmx swap may be under
    way)."""
    if first is not None:
        await (
            page.locator("table.msg-list tbody tr:first-child td:first-child a")
            .filter(has_text=re.compile(rf"^{first}$"))
            .wait_for()
        )
    texts = await page.locator("table.msg-list tbody tr td:first-child a").all_inner_texts()
    return [int(t) for t in texts]


async def counts(api: Any) -> tuple[int, int, int]:
    stream = (await api.get("/streams/WQ")).json()
    consumer = (await api.get("/streams/WQ/consumers/WORKER")).json()
    return (
        stream["state"]["messages"],
        consumer["num_pending"],
        consumer["delivered"]["stream_seq"],
    )


@pytest.fixture
async def workqueue(register_cluster: Any, nats_server: Any) -> Any:
    api = await register_cluster(nats_server, "main")
    await api.create_stream(
        "WQ", subjects=["wq.>"], retention="workqueue", storage="file", max_msg_size=-1
    )
    created = await api.post(
        "/streams/WQ/consumers", json={"durable_name": "WORKER", "ack_policy": "explicit"}
    )
    assert created.status_code == 201, created.text
    return api


@pytest.mark.browser
async def test_a_viewer_reads_a_workqueue_stream_every_way_and_leaves_it_untouched(
    console_page: Any, workqueue: Any
) -> None:
    api = workqueue
    for i in range(1, 61):
        kind = "created" if i % 2 else "shipped"
        await publish(api, f"wq.orders.{kind}", json.dumps({"order": i, "kind": kind}).encode())
    binary = await publish(api, "wq.blob", bytes(range(256)))
    big = await publish(api, "wq.big", (b"0123456789abcdef" * 64 * 1024)[:-3] + b"END")  # 1 MiB
    before = await counts(api)
    for _ in range(100):  # NATS updates a consumer's pending count just after the publish
        if before[1] == before[0]:
            break
        await asyncio.sleep(0.05)
        before = await counts(api)
    console = await console_page("viewer")
    page = console.page

    # The stream page's Messages tab (swapped in by htmx): rows with local times.
    await console.goto(STREAM)
    await page.get_by_role("link", name="Messages", exact=True).click()
    await page.wait_for_url(re.compile(r"tab=messages"))
    await page.locator("table.msg-list time[data-local]").first.wait_for()
    assert (await row_seqs(page))[:3] == [1, 2, 3]

    # First page, then forward and back again; the position is in the URL.
    await console.goto(f"{STREAM}?tab=messages&limit=20")
    assert await row_seqs(page) == list(range(1, 21))
    await assert_accessible(page, "messages tab")
    await screenshot(page, "messages-tab")
    await page.get_by_role("link", name="Newer →").first.click()
    await page.wait_for_url(re.compile(r"seek=seq&seq=21"))
    assert await row_seqs(page, 21) == list(range(21, 41))
    await page.get_by_role("link", name="← Older").first.click()
    await page.wait_for_url(re.compile(r"seek=before&seq=20"))
    assert await row_seqs(page, 1) == list(range(1, 21))
    # The last page, then by time: an hour ago is before everything here.
    await page.get_by_role("link", name="Last", exact=True).click()
    await page.wait_for_url(re.compile(r"seek=last"))
    assert (await row_seqs(page, big - 19))[-1] == big
    await page.get_by_role("link", name="1 h ago").click()
    await page.wait_for_url(re.compile(r"seek=time"))
    assert (await row_seqs(page, 1))[0] == 1
    # Times read in local time, with UTC on hover.
    first_time = page.locator("table.msg-list time").first
    assert await first_time.get_attribute("data-local") is not None
    assert (await first_time.get_attribute("title") or "").endswith("Z")

    # A wildcard subject filter, then a payload search.
    await page.get_by_label("Subject", exact=True).fill("wq.*.shipped")
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url(re.compile(r"subject=wq\.\*\.shipped"))
    shipped = await row_seqs(page, 2)
    assert shipped and all(seq % 2 == 0 for seq in shipped)
    await page.get_by_label("Subject", exact=True).fill("")
    await page.get_by_label("Payload contains").fill('"order": 33,')
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url(re.compile(r"q="))
    assert await row_seqs(page, 33) == [33]
    assert await page.get_by_text(re.compile(r"scanned \d+ messages")).is_visible()
    await assert_accessible(page, "messages search")

    # A JSON message: pretty, coloured, collapsible.
    await page.get_by_role("link", name="33", exact=True).click()
    await page.wait_for_url(f"{console.base}{STREAM}/messages/33")
    assert await page.locator(".json-key", has_text='"order"').is_visible()
    await assert_accessible(page, "JSON message")
    await screenshot(page, "message-json")
    block = page.locator("details.json-block").first
    await block.locator("summary").click()
    assert await block.get_attribute("open") is None

    # A binary one: a hex dump.
    await console.goto(f"{STREAM}/messages/{binary}")
    hexdump = page.get_by_label("Hex dump")
    assert "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|" in (
        await hexdump.inner_text()
    )
    await assert_accessible(page, "binary message")

    # A 1 MiB one: its first 64 KiB until the whole is asked for.
    await console.goto(f"{STREAM}/messages/{big}")
    assert await page.get_by_text("Showing the first 64.0 KiB of 1.0 MiB").is_visible()
    assert "END" not in await page.locator("pre.payload").inner_text()
    await page.get_by_role("link", name="Load the whole message").click()
    await page.wait_for_url(re.compile(r"full=1"))
    assert (await page.locator("pre.payload").inner_text()).endswith("END")
    await assert_accessible(page, "big message")

    # Through NATS: nothing was consumed, acknowledged or removed.
    assert await counts(api) == before


@pytest.mark.browser
async def test_an_editor_publishes_with_repeated_headers_and_the_live_tail_shows_new_messages(
    console_page: Any, workqueue: Any
) -> None:
    api = workqueue
    await publish(api, "wq.seed", b'{"seed": true}')
    console = await console_page("editor")
    page = console.page

    await console.goto(f"{STREAM}?tab=messages")
    await page.get_by_role("link", name="Publish a message").click()
    await page.wait_for_url(f"{console.base}{STREAM}/messages/publish")
    await page.get_by_label("Subject").fill("wq.orders.created")
    names = page.get_by_label("Name")
    values = page.get_by_label("Value")
    for i, (name, value) in enumerate([("Tag", "one"), ("Tag", "two"), ("Trace", "t")]):
        await names.nth(i).fill(name)
        await values.nth(i).fill(value)
    await page.get_by_role("button", name="Add a header").click()
    await names.nth(3).fill("Tag")
    await values.nth(3).fill("three")
    await page.get_by_label("JSON (checked before sending)").check()
    await page.get_by_label("Payload", exact=True).fill('{"hello": "tail"}')
    await page.get_by_label("Message id (Nats-Msg-Id)").fill("order-1")
    await assert_accessible(page, "publish form")
    await screenshot(page, "message-publish")
    await page.get_by_role("button", name="Publish").click()
    answer = page.locator("[data-published]")
    await answer.wait_for()
    assert "Published as seq 2" in " ".join((await answer.inner_text()).split())
    await page.get_by_role("link", name="seq 2").click()
    await page.wait_for_url(f"{console.base}{STREAM}/messages/2")
    headers = page.locator("table.msg-headers tbody tr")
    assert [" ".join(t.split()) for t in await headers.all_inner_texts()] == [
        "Tag one",
        "Tag two",
        "Tag three",
        "Trace t",
        "Nats-Msg-Id NATS order-1",
    ]
    stored = (await api.get("/streams/WQ/messages/2")).json()
    assert stored["headers"]["Tag"] == ["one", "two", "three"]
    await assert_accessible(page, "published message")

    # The live tail: a message published now shows at the top of the list within 2 s.
    await console.goto(f"{STREAM}?tab=messages&subject=wq.live.*")
    await page.get_by_role("button", name="Live tail").click()
    tail = page.locator("[data-tail]")
    await tail.and_(page.locator("[data-tail-ready]")).wait_for(timeout=5000)
    seq = await publish(api, "wq.live.x", b'{"live": 1}')
    newest = page.locator("table.msg-list tbody tr").first
    await newest.locator("a", has_text=str(seq)).wait_for(timeout=2000)
    assert "wq.live.x" in await newest.inner_text()
    await page.get_by_role("button", name="Pause").click()
    paused = await publish(api, "wq.live.y", b"held")
    await page.get_by_text(re.compile(r"paused, 1 waiting")).wait_for(timeout=2000)
    await page.get_by_role("button", name="Resume").click()
    await (
        page.locator("table.msg-list tbody tr")
        .first.locator("a", has_text=str(paused))
        .wait_for(timeout=2000)
    )
    await assert_accessible(page, "live tail")
    await screenshot(page, "messages-tail")
    # Stopping closes the EventSource: the browser reports the open request as aborted.
    console.expect_problem(r"/messages/tail\?.* net::ERR_ABORTED")
    await page.get_by_role("button", name="Stop live tail").click()
    await page.get_by_role("button", name="Live tail").wait_for()
