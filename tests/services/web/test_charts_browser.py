"""Charts in a real browser: a consumer with a real backlog, collected, shows charts whose last
points are what NATS reports; a range with a collection gap is drawn with a gap; drag zooms
every chart and "Reset zoom" undoes it; the range picker is in the URL; accessible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest

from shared.metrics.collector import cycle_time
from tests.services.api.test_metrics import collect
from tests.services.web.browser import assert_accessible, screenshot

CONSUMER_PAGE = "/orgs/acme/clusters/main/streams/ORDERS/consumers/BILLING"
DRAWN = "[data-charts][data-charts-ready='drawn']"


async def charts_of(page: Any) -> dict[str, Any]:
    """Each drawn chart's data by title, as uPlot holds it (x first, then its series)."""
    await page.wait_for_selector(DRAWN, timeout=10_000)
    charts = await page.evaluate("window.jetdeckCharts.charts")
    return {chart["title"]: chart for chart in charts}


def last(column: list[Any]) -> Any:
    return next(v for v in reversed(column) if v is not None)


@pytest.mark.browser
async def test_a_consumers_charts_end_at_what_nats_reports_and_show_a_collection_gap(
    console_page: Any, register_cluster: Any, nats_server: Any, settings: Any, clickhouse: Any
) -> None:
    api = await register_cluster(nats_server, "main")
    await api.create_stream("ORDERS", max_bytes=1 << 20)
    nc = await nats.connect(
        nats_server.servers, user=nats_server.user, password=nats_server.password
    )
    try:
        js = nc.jetstream()
        for i in range(10):
            await js.publish("orders.new", str(i).encode())
        sub = await js.pull_subscribe("orders.>", durable="BILLING", stream="ORDERS")
        assert len(await sub.fetch(4, timeout=5)) == 4  # delivered, never acknowledged
        info = await js.consumer_info("ORDERS", "BILLING")
        assert (info.num_pending, info.num_ack_pending) == (6, 4)
        await collect(settings, cycle_time(10))
    finally:
        await nc.close()

    console = await console_page("viewer")
    page = console.page
    await console.goto(CONSUMER_PAGE)
    charts = await charts_of(page)
    assert list(charts) == [
        "Backlog",
        "Ack pending",
        "Redelivered",
        "Delivered and acked",
        "Time lag",
        "Time to drain",
    ]
    backlog, acking = charts["Backlog"], charts["Ack pending"]
    assert last(backlog["data"][1]) == info.num_pending
    assert last(acking["data"][1]) == info.num_ack_pending
    # max_ack_pending (1000 by default) is drawn as a line beside ack pending.
    assert acking["limits"] == ["num_ack_pending"]
    assert last(acking["data"][2]) == info.config.max_ack_pending
    figure = page.get_by_role("figure", name="Backlog: Last: 6 msgs")
    assert await figure.is_visible()
    assert await page.locator("#chart-consumer-1").get_attribute("data-last") == (
        '{"num_pending":6}'
    )
    assert await page.locator("#chart-consumer-1 .chart-canvas").get_attribute("aria-hidden")
    assert await page.evaluate("performance.getEntriesByName('charts-drawn').length") == 1
    await assert_accessible(page, "consumer charts")

    # A range ending now asks again at the collection interval (the timer's tick, run now).
    assert await page.evaluate("window.jetdeckCharts.charts.length") == 6
    async with page.expect_response(lambda r: "/charts.json?range=1h" in r.url) as again:
        await page.evaluate("document.querySelector('[data-charts]').jetdeckPanel.tick()")
    assert (await again.value).status == 200

    # The range picker: a plain link, so the URL holds the range; the data follows it.
    async with page.expect_response(lambda r: "charts.json?range=7d" in r.url) as data:
        await page.get_by_role("link", name="7 d").click()
    assert (await data.value).status == 200
    assert page.url.endswith(f"{CONSUMER_PAGE}?range=7d")
    assert await page.get_by_role("link", name="7 d").get_attribute("aria-current") == "true"
    charts = await charts_of(page)
    assert last(charts["Backlog"]["data"][1]) == 6

    # Drag across a chart: every chart of the page zooms in; "Reset zoom" zooms out.
    reset = page.get_by_role("button", name="Reset zoom")
    assert not await reset.is_visible()
    box = await page.locator("#chart-consumer-1 .u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    await page.mouse.move(box["x"] + box["width"] * 0.3, y)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=5)
    await page.mouse.up()
    assert await reset.is_visible()
    await reset.click()
    assert not await reset.is_visible()

    # A past range in which collection stopped for 100 s: the gap is null in what is drawn.
    ids = {
        "cluster": (await api.get(headers=api.admin)).json()["id"],
        "org": (await api.client.get("/api/v1/orgs/acme", headers=api.admin)).json()["id"],
    }
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    await clickhouse.command(
        f"INSERT INTO {clickhouse.database}.consumer_samples (ts, org_id, cluster_id, account, "
        "stream, consumer, num_pending, num_ack_pending, num_redelivered, num_waiting, "
        "delivered_consumer_seq, delivered_stream_seq, ack_floor_consumer_seq, "
        "ack_floor_stream_seq, delivered_total, acked_total, time_lag_seconds) "
        "SELECT toDateTime({start:UInt32} + number * 10, 'UTC'), {org:String}, {cluster:String}, "
        "'$G', 'ORDERS', 'BILLING', 100 + number, 3, 0, 0, 0, 0, 0, 0, number * 10, "
        "number * 10, 1.5 FROM numbers(30) WHERE number < 10 OR number >= 20",
        {"start": int(start.timestamp()), **ids},
    )
    frm = start.strftime("%Y-%m-%dT%H:%M")
    to = (start + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    await page.get_by_text("Custom", exact=True).click()
    await page.get_by_label("From (UTC)").fill(frm)
    await page.get_by_label("To (UTC)").fill(to)
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_url("**range=custom**")
    charts = await charts_of(page)
    pending = charts["Backlog"]["data"][1]
    assert pending[:10] == list(range(100, 110))
    assert pending[10:20] == [None] * 10  # uPlot breaks the line here (spanGaps false)
    assert pending[20:30] == list(range(120, 130))
    await assert_accessible(page, "consumer charts, custom range")
    await page.locator("#chart-consumer-1").scroll_into_view_if_needed()
    await screenshot(page, "consumer-charts")

    # The stream's Overview, reached through its tab (htmx swaps it in, scripts and all):
    # messages, bytes against max_bytes, ingest rate; in the dark theme.
    await console.goto("/orgs/acme/clusters/main/streams/ORDERS?tab=config")
    await page.get_by_role("button", name="Switch to dark theme").click()
    await page.get_by_role("link", name="Overview").click()
    await page.wait_for_url("**/streams/ORDERS")
    charts = await charts_of(page)
    assert last(charts["Messages"]["data"][1]) == 10
    assert charts["Bytes"]["limits"] == ["bytes"] and last(charts["Bytes"]["data"][2]) == 1 << 20
    await assert_accessible(page, "stream charts (dark)")
    await screenshot(page, "stream-charts-dark")

    # The cluster page: storage and memory against their limits, servers reachable.
    await console.goto("/orgs/acme/clusters/main?range=24h")
    charts = await charts_of(page)
    assert list(charts) == ["Storage", "Memory", "Servers reachable"]
    assert last(charts["Servers reachable"]["data"][1]) == 1
    await assert_accessible(page, "cluster charts (dark)")
