"""The alert pages in Chromium, end to end: an admin makes a webhook channel pointing at a
loopback receiver and sends a test; writes a rule with its preview; a real consumer's backlog
fires it (one collection, evaluated like the worker does, its delivery sent); the alerts page
shows it; the admin acknowledges it, silences it from the alert, and reads its timeline.
Every page passes axe-core with no console error or failed request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from services.app import create_app
from shared.accounts.principals import OrgContext, Principal
from shared.accounts.roles import Role
from shared.backends import Backends
from shared.clusters.models import Cluster
from tests.fixtures.jetstream import serving
from tests.services.web.browser import assert_accessible, screenshot
from tests.shared.alerts.conftest import Alerting


@pytest.fixture
def app(notify_settings: Any) -> Any:
    return create_app(notify_settings)


@pytest.fixture
def served_app(notify_settings: Any) -> Iterator[str]:
    # JETDECK_NOTIFY_ALLOW_PRIVATE_NETWORKS=true: the webhook receiver is on loopback.
    with serving(notify_settings) as url:
        yield url


async def test_an_admin_walks_channel_test_rule_preview_firing_alert_ack_silence_and_timeline(
    console_page: Any,
    register_cluster: Any,
    nats_server: Any,
    notify_settings: Any,
    clickhouse: Any,
    receiver: Any,
    org: Any,
) -> None:
    await register_cluster(nats_server)
    nc = await nats_server.connect()
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.>"], storage="memory")
    await js.pull_subscribe("orders.>", durable="billing", stream="ORDERS")
    for _ in range(25):
        await js.publish("orders.new", b"x")
    await nc.close()

    console = await console_page("admin")
    page = console.page

    # A webhook channel: its signing secret shown once; "Send test" reaches the receiver.
    await console.goto("/orgs/acme/settings/channels/new?kind=webhook")
    await page.get_by_label("Name").fill("ops-hook")
    await page.get_by_label("URL").fill(f"{receiver.url}/hook")
    await page.get_by_role("button", name="Create channel").click()
    await page.get_by_text("Copy it now: it is shown this once").wait_for()
    await assert_accessible(page, "new webhook channel")
    await page.get_by_role("button", name="Send test").click()
    await page.get_by_text("Test sent: the receiver answered 200").wait_for()
    assert len(receiver.on("/hook")) == 1
    await screenshot(page, "alert-channel")

    # A rule, previewed before it is saved.
    await console.goto("/orgs/acme/alerts/rules/new")
    await page.get_by_label("Name").fill("billing backlog")
    await page.get_by_label("Metric").select_option("consumer.num_pending")
    await page.get_by_label("Operator").select_option(">")
    await page.get_by_label("Threshold").fill("10")
    await page.get_by_label("Channels").select_option(label="ops-hook (webhook)")
    await page.get_by_role("button", name="Preview: what would match now").click()
    await page.get_by_text("1 of 1 targets would fire").wait_for()
    await assert_accessible(page, "rule editor with preview")
    await screenshot(page, "alert-rule")
    await page.get_by_role("button", name="Create rule").click()
    await page.wait_for_url("**/alerts/rules")
    await page.get_by_role("link", name="billing backlog").wait_for()

    # A real collection of the cluster, evaluated as the worker does, fires it.
    backends = Backends.open(notify_settings)
    try:
        assert backends.database is not None
        async with backends.database.session() as session:
            cluster_id = await session.scalar(select(Cluster.id).where(Cluster.org_id == org.id))
        principal = Principal(kind="user", id=org.id, label="worker", user_id=None)
        alerting = Alerting(
            backends, OrgContext(org.id, org.slug, Role.ADMIN, principal, org.name), clickhouse
        )
        deliveries = await alerting.collect((str(cluster_id), "main"), 0)
        assert [o.state for o in await alerting.deliver(deliveries)] == ["sent"]
    finally:
        await backends.close()
    assert len(receiver.on("/hook")) == 2

    await console.goto("/orgs/acme/alerts")
    row = page.get_by_role("row").filter(has_text="billing backlog")
    await row.get_by_text("firing").wait_for()
    await assert_accessible(page, "alerts")
    await screenshot(page, "alerts")

    await row.get_by_text("Acknowledge…").click()
    await row.get_by_label("Comment (optional)").fill("looking into it")
    await row.get_by_role("button", name="Acknowledge").click()
    await page.get_by_text("“looking into it”").wait_for()

    await page.get_by_role("link", name="Silence this alert…").click()
    await page.get_by_label("Comment").fill("billing deploy")
    assert await page.get_by_label("Consumer").input_value() == "billing"
    await assert_accessible(page, "silence form")
    await page.get_by_role("button", name="Silence", exact=True).click()
    await page.get_by_text("silenced", exact=True).first.wait_for()

    timeline = page.locator(".timeline")
    for kind in ("pending", "firing", "acknowledged"):
        await timeline.get_by_text(kind, exact=True).wait_for()
    await page.get_by_role("cell", name="sent").first.wait_for()
    await assert_accessible(page, "alert detail")
    await screenshot(page, "alert-detail")
