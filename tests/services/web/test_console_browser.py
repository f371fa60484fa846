"""The console in a real browser: a new admin's first look at the dashboard, then with the
test cluster registered and collected once; accessible in both themes; the theme toggle is
remembered; `?` lists the shortcuts."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared.metrics.collector import cycle_time
from tests.fixtures.accounts import PASSWORD
from tests.services.api.test_metrics import collect
from tests.services.web.browser import VIEWPORT, assert_accessible, screenshot


@pytest.mark.browser
async def test_a_new_admin_finds_the_next_step_then_the_collected_cluster_on_the_dashboard(
    console_page: Any, register_cluster: Any, nats_server: Any, settings: Any, clickhouse: Any
) -> None:
    console = await console_page("admin")
    page = console.page
    assert page.url == f"{console.base}/orgs/acme"  # signing in lands on the dashboard
    assert await page.get_by_role("heading", name="Dashboard").is_visible()
    assert await page.get_by_text("No cluster yet").is_visible()
    await assert_accessible(page, "empty dashboard")
    await page.get_by_role("link", name="Register a cluster").click()
    await page.wait_for_url(f"{console.base}/orgs/acme/clusters")
    await assert_accessible(page, "clusters (empty)")

    api = await register_cluster(nats_server, "main")
    await api.create_stream("ORDERS", max_msgs=10)
    for i in range(7):
        await api.post("/streams/ORDERS/messages", json={"subject": "orders.new", "text": str(i)})
    consumer = {"durable_name": "BILLING", "ack_policy": "explicit"}
    assert (await api.post("/streams/ORDERS/consumers", json=consumer)).status_code == 201
    await collect(settings, cycle_time(10))

    await console.goto("/orgs/acme")
    live = page.locator("#dashboard_live")
    assert await live.get_by_role("rowheader", name="main test").is_visible()
    assert await live.get_by_text("reachable", exact=True).is_visible()
    assert await live.get_by_text("7 / 10 (70%)").is_visible()
    backlog = live.get_by_role("row", name=re.compile(r"^BILLING ORDERS · main 7 "))
    assert await backlog.is_visible()  # 7 pending, none delivered yet
    await assert_accessible(page, "dashboard")
    await screenshot(page, "dashboard")

    # The figures refresh in place: htmx asks for the `dashboard_live` fragment alone (every
    # 10 s while visible, and at once when the tab becomes visible again).
    async with page.expect_response(
        lambda r: r.request.headers.get("hx-target") == "dashboard_live"
    ) as refreshed:
        await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    response = await refreshed.value
    assert response.status == 200
    assert "HX-Request" in response.headers["vary"]
    assert (await response.text()).lstrip().startswith('<div id="dashboard_live"')
    assert await live.get_by_text("7 / 10 (70%)").is_visible()
    assert page.url == f"{console.base}/orgs/acme"  # polling never pushes a URL

    # The theme: light (the system's, here), toggled to dark, remembered across pages.
    toggle = page.get_by_role("button", name="Switch to dark theme")
    await toggle.click()
    assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
    await console.goto("/orgs/acme/clusters")
    assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert await page.evaluate("localStorage.getItem('jetdeck-theme')") == "dark"
    await assert_accessible(page, "clusters (dark)")
    await console.goto("/orgs/acme")
    await assert_accessible(page, "dashboard (dark)")
    await screenshot(page, "dashboard-dark")
    await page.get_by_role("button", name="Switch to light theme").click()

    # `?` lists the shortcuts; Escape closes the list.
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    await page.keyboard.press("?")
    assert await dialog.is_visible()
    await assert_accessible(page, "shortcuts dialog")
    await page.keyboard.press("Escape")
    assert not await dialog.is_visible()

    for path in ("/account", "/status"):
        await console.goto(path)
        await assert_accessible(page, path)
    await console.goto("/orgs/acme")

    # The organization switcher opens without leaving the page.
    await page.get_by_text("Organization", exact=True).click()
    assert await page.get_by_role("link", name="Acme admin").is_visible()


@pytest.mark.browser
async def test_the_sign_in_page_is_accessible_and_the_console_reads_without_javascript(
    browser: Any, served_app: str, make_user: Any
) -> None:
    await make_user("reader@acme.test", org_slug="acme", role="viewer")
    scripted = await browser.new_context(viewport=VIEWPORT)
    try:
        sign_in = await scripted.new_page()
        await sign_in.goto(f"{served_app}/login")
        await assert_accessible(sign_in, "sign-in page")
    finally:
        await scripted.close()

    context = await browser.new_context(java_script_enabled=False, viewport=VIEWPORT)
    try:
        page = await context.new_page()
        await page.goto(f"{served_app}/orgs/acme")
        await page.wait_for_url(f"{served_app}/login?next=/orgs/acme")
        await page.get_by_label("Email").fill("reader@acme.test")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{served_app}/orgs/acme")
        assert await page.get_by_role("heading", name="Dashboard").is_visible()
        assert await page.get_by_text("No cluster yet").is_visible()
        # The theme toggle and the shortcuts need JavaScript: without it they stay hidden.
        assert not await page.get_by_role("button", name="Switch to dark theme").is_visible()
        await page.get_by_text("Organization", exact=True).click()  # <details>: no script
        await page.get_by_role("link", name="Acme viewer").click()
        await page.wait_for_url(f"{served_app}/orgs/acme")
        await page.get_by_role("link", name="Clusters", exact=True).click()
        await page.wait_for_url(f"{served_app}/orgs/acme/clusters")
    finally:
        await context.close()
