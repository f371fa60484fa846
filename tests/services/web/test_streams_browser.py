"""Streams and consumers in a real browser, as an editor works: create a stream from the form
(through its JSON tab and back) and find it in the list; change its limits through the
dry-run diff; create a consumer, pause and resume it (and find it with the consumers' search);
purge by subject; an admin finds each change on the audit log; delete the stream. A viewer
sees the same pages without mutation controls, and POSTs forged from its session get 403.
Every page is checked with axe-core."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.services.web.browser import assert_accessible, screenshot

BASE = "/orgs/acme/clusters/main/streams"


@pytest.mark.browser
async def test_an_editor_creates_edits_purges_and_deletes_a_stream_and_its_consumer(
    console_page: Any, register_cluster: Any, nats_server: Any
) -> None:
    api = await register_cluster(nats_server, "main")
    console = await console_page("editor")
    page = console.page

    await console.goto(BASE)
    assert await page.get_by_text("No stream yet").is_visible()
    await assert_accessible(page, "streams (empty)")
    await page.get_by_role("link", name="New stream").first.click()
    await page.wait_for_url(f"{console.base}/orgs/acme/clusters/main/new-stream")
    await page.get_by_label("Name", exact=True).fill("WEBORDERS")
    await page.get_by_label("Subjects").fill("weborders.>")
    await page.get_by_label("Storage").select_option("memory")
    await page.get_by_label("Max messages", exact=True).fill("1000")
    await page.get_by_label("Max age").fill("7d")
    await assert_accessible(page, "new stream")
    await screenshot(page, "stream-create")
    # The JSON tab holds the same config, in NATS' own JSON; back to the form, nothing lost.
    await page.get_by_role("button", name="JSON").click()
    json_box = page.get_by_label("NATS JSON")
    await json_box.wait_for()
    text = await json_box.input_value()
    assert '"max_age": 604800000000000' in text and '"weborders.>"' in text
    await assert_accessible(page, "new stream (JSON)")
    await page.get_by_role("button", name="Form").click()
    await page.get_by_label("Max age").wait_for()
    assert await page.get_by_label("Max age").input_value() == "7d"
    await page.get_by_role("button", name="Create stream").last.click()
    await page.wait_for_url(f"{console.base}{BASE}/WEBORDERS")

    for subject in ("weborders.a", "weborders.b", "weborders.b"):
        sent = await api.post(
            "/streams/WEBORDERS/messages", json={"subject": subject, "text": "hi"},
            headers=api.headers,
        )  # fmt: skip
        assert sent.status_code in (200, 201), sent.text
    await console.goto(BASE)
    await page.get_by_label("Search streams").fill("WEBORD")
    await page.wait_for_url(re.compile(r"search=WEBORD"))  # the search is in the URL
    row = page.get_by_role("row", name=re.compile(r"^WEBORDERS "))
    await row.wait_for()
    assert await row.get_by_text("3 / 1,000 (0%)").is_visible()
    await assert_accessible(page, "streams")
    await screenshot(page, "streams")

    await row.get_by_role("link", name="WEBORDERS").click()
    await page.wait_for_url(f"{console.base}{BASE}/WEBORDERS")
    assert await page.get_by_role("heading", name="Placement and replicas").is_visible()
    await assert_accessible(page, "stream overview")
    await screenshot(page, "stream")

    # Config: the dry-run diff first, then apply.
    await page.get_by_role("link", name="Config").click()
    await page.wait_for_url(f"{console.base}{BASE}/WEBORDERS?tab=config")
    await page.get_by_label("Max messages", exact=True).fill("2000")
    await page.get_by_role("button", name="Review changes").last.click()
    review = page.locator(".review")
    await review.wait_for()
    assert await review.get_by_role("rowheader", name="max_msgs").is_visible()
    await assert_accessible(page, "stream config review")
    await review.scroll_into_view_if_needed()
    await screenshot(page, "stream-config-review")
    async with page.expect_navigation(url=f"{console.base}{BASE}/WEBORDERS?tab=config"):
        await review.get_by_role("button", name="Apply 1 change").click()  # HX-Redirect
    await page.get_by_label("Max messages", exact=True).wait_for()
    assert await page.get_by_label("Max messages", exact=True).input_value() == "2000"

    # A consumer: create, pause, resume.
    await page.get_by_role("link", name="Consumers").click()
    await page.wait_for_url(f"{console.base}{BASE}/WEBORDERS?tab=consumers")
    await assert_accessible(page, "stream consumers (empty)")
    await page.get_by_role("link", name="New consumer").first.click()
    await page.wait_for_url(f"{console.base}{BASE}/WEBORDERS/new-consumer")
    await page.get_by_label("Name", exact=True).fill("shipper")
    await page.get_by_label("Filter subjects").fill("weborders.a")
    await page.get_by_label("Backoff").fill("1s, 10s")
    await assert_accessible(page, "new consumer")
    await page.get_by_role("button", name="Create consumer").last.click()
    await page.wait_for_url(f"{console.base}{BASE}/WEBORDERS/consumers/shipper")
    await page.get_by_label("Pause until (UTC)").fill("2099-01-01T00:00:00")
    await page.get_by_role("button", name="Pause", exact=True).click()
    await page.get_by_role("button", name="Resume now").wait_for()
    live = page.locator("#consumer_live")
    assert await live.get_by_text("paused", exact=True).is_visible()
    await assert_accessible(page, "consumer (paused)")
    await screenshot(page, "consumer")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Resume now").click()
    assert await page.get_by_role("button", name="Resume now").count() == 0
    await console.goto(f"{BASE}/WEBORDERS?tab=consumers")
    assert await page.get_by_role("rowheader", name=re.compile("^shipper")).is_visible()
    await page.get_by_label("Search consumers").fill("SHIP")
    await page.wait_for_url(re.compile(r"tab=consumers&search=SHIP"))  # in the URL
    await page.get_by_text("1 consumer matching SHIP").wait_for()
    assert await page.get_by_role("rowheader", name=re.compile("^shipper")).is_visible()
    await assert_accessible(page, "stream consumers")

    # Purge by subject: what it removes first, then the purge.
    await console.goto(f"{BASE}/WEBORDERS")
    await page.get_by_text("Purge messages…").click()
    await page.get_by_label("Messages on a subject").check()
    await page.get_by_label("Subject (optional for keep / sequence)").fill("weborders.b")
    await page.get_by_role("button", name="Show what it removes").click()
    purge = page.get_by_role("button", name="Purge 2 messages")
    await purge.wait_for()
    assert await page.get_by_text("This removes 2 messages of 3.").is_visible()
    await assert_accessible(page, "purge preview")
    await purge.click()
    await page.get_by_text("Purged 2 messages.").wait_for()

    # An admin finds each of these changes on the audit log, the editor as their actor.
    admin = await console_page("admin")
    await admin.goto("/orgs/acme/settings/audit?actor=editor%40acme.test")
    table = admin.page.locator("#audit_table")
    for action, count in (
        ("stream.create", 1),
        ("stream.update", 1),
        ("consumer.create", 1),
        ("consumer.pause", 2),  # paused, then resumed
        ("stream.purge", 1),
    ):
        assert await table.get_by_role("rowheader", name=action, exact=True).count() == count
    update = table.get_by_role("row", name=re.compile(r"^\S+ ago editor@acme\.test stream\.update"))
    assert await update.get_by_role("rowheader", name="max_msgs").is_visible()
    assert await update.get_by_role("cell", name="2000", exact=True).is_visible()
    await assert_accessible(admin.page, "audit log (stream changes)")

    # Delete with the typed name.
    await page.get_by_text("Delete this stream…").click()
    await page.get_by_label("Type WEBORDERS to delete this stream for good").fill("WEBORDERS")
    await page.get_by_role("button", name="Delete WEBORDERS").click()
    await page.wait_for_url(f"{console.base}{BASE}")
    assert await page.get_by_text("No stream yet").is_visible()


@pytest.mark.browser
async def test_a_viewer_reads_stream_and_consumer_pages_without_controls(
    console_page: Any, register_cluster: Any, nats_server: Any
) -> None:
    api = await register_cluster(nats_server, "main")
    await api.create_stream("READONLY", max_bytes=1 << 20)
    await api.post("/streams/READONLY/consumers", json={"durable_name": "reader"})
    console = await console_page("viewer")
    page = console.page
    for path, name in (
        (BASE, "streams (viewer)"),
        (f"{BASE}/READONLY", "stream overview (viewer)"),
        (f"{BASE}/READONLY?tab=consumers", "stream consumers (viewer)"),
        (f"{BASE}/READONLY?tab=config", "stream config (viewer)"),
        (f"{BASE}/READONLY/consumers/reader", "consumer (viewer)"),
    ):
        await console.goto(path)
        for control in ("New stream", "New consumer", "Review changes", "Pause"):
            assert await page.get_by_role("button", name=control).count() == 0
            assert await page.get_by_role("link", name=control).count() == 0
        assert await page.locator("details.danger-zone").count() == 0
        await assert_accessible(page, name)

    # The server decides: a POST forged from the viewer's own session (its cookie and CSRF
    # token) is refused, and the stream is still there.
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    for action, form in (
        ("delete", {"confirm": "READONLY"}),
        ("purge", {"kind": "all"}),
        ("consumers/reader/pause", {"until": "2099-01-01T00:00:00"}),
    ):
        forged = await page.request.post(
            f"{console.base}{BASE}/READONLY/{action}",
            form={"csrf_token": str(token), **form},
            max_redirects=0,
        )
        assert forged.status == 403, action
    assert (await api.get("/streams/READONLY")).status_code == 200
    assert (await api.get("/streams/READONLY/consumers/reader")).json().get("paused") is not True
