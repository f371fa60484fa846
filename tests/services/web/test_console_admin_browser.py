"""The admin pages in a real browser: an owner registers the test cluster after testing the
connection, opens it (each server with its RTT), invites a member and revokes the pending
invitation, creates and revokes an API key, and finds those changes on the audit log; a
viewer sees the same pages without a control, and POSTs forged from its session get 403.
Every page is checked with axe-core, and no console error or failed request may happen."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.services.web.browser import assert_accessible, screenshot


@pytest.mark.browser
async def test_an_owner_registers_a_cluster_manages_access_and_reads_the_audit_log(
    console_page: Any, nats_server: Any
) -> None:
    console = await console_page("owner")
    page = console.page

    await console.goto("/orgs/acme/clusters")
    await page.get_by_role("link", name="Register a cluster").first.click()
    await page.wait_for_url(f"{console.base}/orgs/acme/clusters/new")
    await page.get_by_label("Name", exact=True).fill("main")
    await page.locator('[name="servers"]').fill("\n".join(nats_server.servers))
    await page.locator('[name="environment"]').fill("test")
    await page.locator('[name="labels"]').fill("team=platform")
    await page.locator('[name="auth.type"]').select_option("user_password")
    await page.locator('[name="auth.username"]').fill(nats_server.user)
    await page.locator('[name="auth.password"]').fill(nats_server.password)
    await page.get_by_role("button", name="Test connection").click()
    result = page.locator("#connection_test")
    await result.get_by_text("Connected.").wait_for()
    assert page.url == f"{console.base}/orgs/acme/clusters/new"  # tested, nothing saved
    await assert_accessible(page, "register a cluster (tested)")
    await screenshot(page, "cluster-register")
    await page.get_by_role("button", name="Register").click()
    await page.wait_for_url(f"{console.base}/orgs/acme/clusters/main")
    assert await page.get_by_role("heading", name="JetStream account usage").is_visible()
    assert await page.get_by_role("heading", name="Servers", exact=True).is_visible()
    server = page.locator("#cluster_live").get_by_role("row", name=re.compile(r"reachable"))
    assert re.search(r"reachable\s+\d[\d.,]* ms\s", await server.first.inner_text())  # RTT
    await assert_accessible(page, "cluster page")
    await screenshot(page, "cluster")
    await console.goto("/orgs/acme/clusters")
    assert await page.get_by_role("rowheader", name="main").is_visible()
    await assert_accessible(page, "clusters")
    await console.goto("/orgs/acme/clusters/main/edit")
    assert await page.get_by_text("Set; leave empty to keep it.").is_visible()
    await assert_accessible(page, "edit a cluster")
    await console.goto("/orgs/acme/clusters/import")
    await assert_accessible(page, "import a natscli context")
    await console.goto("/account")
    await assert_accessible(page, "account with the password form")
    await console.goto("/orgs/acme")

    await page.get_by_role("link", name="Members").click()
    await page.wait_for_url(f"{console.base}/orgs/acme/settings/members")
    await page.get_by_label("Email").fill("new@acme.test")
    await page.get_by_label("Role", exact=True).select_option("editor")
    await page.get_by_role("button", name="Invite").click()
    link = page.get_by_label("Invitation link")
    await link.wait_for()
    assert re.search(r"/invitations/jdi_", await link.input_value())
    await assert_accessible(page, "members (invitation shown)")
    await screenshot(page, "members")
    invitation = (await link.input_value()).removeprefix(console.base)
    await console.goto(invitation)
    assert await page.get_by_role("button", name="Accept the invitation").is_visible()
    await assert_accessible(page, "accept an invitation")
    await console.goto("/orgs/acme/settings/members")
    assert await page.get_by_label("Invitation link").count() == 0  # shown once
    pending = page.get_by_role("row", name=re.compile(r"^new@acme\.test editor owner@acme\.test"))
    assert await pending.is_visible()  # pending: who invited, sent, expires
    await page.get_by_role("button", name="Revoke the invitation of new@acme.test").click()
    await page.get_by_role("heading", name="0 pending invitations").wait_for()

    await page.get_by_role("link", name="API keys").click()
    await page.wait_for_url(f"{console.base}/orgs/acme/settings/api-keys")
    await page.get_by_label("Name").fill("ci-deploy")
    await page.get_by_label("Role", exact=True).select_option("editor")
    await page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("The new API key")
    await key.wait_for()
    assert (await key.input_value()).startswith("jdk_")
    assert await page.get_by_role("button", name="Copy").is_visible()
    await assert_accessible(page, "API keys (key shown)")
    await screenshot(page, "api-keys")
    await page.get_by_role("button", name="Revoke ci-deploy").click()
    await page.get_by_text("No active key.").wait_for()

    await page.get_by_role("link", name="Audit log").click()
    await page.wait_for_url(f"{console.base}/orgs/acme/settings/audit")
    await page.get_by_label("Action").fill("api_key.*")
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url(re.compile(r".*/settings/audit\?.*action=api_key\.\*"))
    table = page.locator("#audit_table")
    await table.get_by_role("rowheader", name="api_key.revoke").wait_for()
    assert await table.get_by_role("rowheader", name="api_key.create").is_visible()
    assert await table.get_by_role("rowheader", name="member.invite").count() == 0
    await assert_accessible(page, "audit log (filtered)")
    await console.goto("/orgs/acme/settings/audit")
    for action in (
        "cluster.create",
        "member.invite",
        "invitation.revoke",
        "api_key.create",
        "api_key.revoke",
    ):
        assert await page.get_by_role("rowheader", name=action).count() == 1, action
    await screenshot(page, "audit")

    viewer = await console_page("viewer")
    vpage = viewer.page
    await viewer.goto("/orgs/acme/clusters")
    assert await vpage.get_by_role("link", name="Register a cluster").count() == 0
    assert await vpage.get_by_role("button", name=re.compile("Disable")).count() == 0
    await assert_accessible(vpage, "clusters (viewer)")
    await viewer.goto("/orgs/acme/clusters/main")
    assert await vpage.get_by_role("link", name="Edit").count() == 0
    assert await vpage.get_by_text("Delete this cluster").count() == 0
    await assert_accessible(vpage, "cluster page (viewer)")
    await vpage.get_by_role("link", name="Members").click()
    await vpage.wait_for_url(f"{viewer.base}/orgs/acme/settings/members")
    assert await vpage.get_by_role("button", name="Invite").count() == 0
    assert await vpage.get_by_role("button", name=re.compile("^Remove")).count() == 0
    assert await vpage.get_by_role("link", name="API keys").count() == 0
    assert await vpage.get_by_role("link", name="Audit log").count() == 0
    assert await vpage.get_by_text("pending invitation").count() == 0
    await assert_accessible(vpage, "members (viewer)")

    # The server decides: POSTs forged from the viewer's own session (its cookie and CSRF
    # token) get 403, and nothing lands on the audit log.
    token = str(await vpage.locator('meta[name="csrf-token"]').get_attribute("content"))
    for path, form in (
        ("/orgs/acme/settings/members", {"email": "forged@acme.test", "role": "viewer"}),
        ("/orgs/acme/settings/api-keys", {"name": "forged", "role": "viewer"}),
        ("/orgs/acme/clusters/main/delete", {"confirm": "main"}),
    ):
        forged = await vpage.request.post(
            viewer.base + path, form={"csrf_token": token, **form}, max_redirects=0
        )
        assert forged.status == 403, path
    await console.goto("/orgs/acme/settings/audit")
    assert await page.get_by_text("viewer@acme.test").count() == 0
    assert await page.get_by_role("rowheader", name="member.invite").count() == 1
