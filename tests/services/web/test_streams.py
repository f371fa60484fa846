"""The console's streams and consumers over HTTP (fast: AsyncTestClient on the test NATS)."""

from __future__ import annotations

from typing import Any

from tests.fixtures.accounts import web_login

HTML = {"Accept": "text/html"}
BASE = "/orgs/acme/clusters/main/streams"


async def _sign_in(client: Any, make_user: Any, role: str = "viewer") -> None:
    await make_user(f"web-{role}@example.com", org_slug="acme", role=role)
    assert (await web_login(client, f"web-{role}@example.com")).status_code == 303


async def test_the_stream_page_has_a_tab_per_view_and_htmx_swaps_only_the_tab(
    client, make_user, on_server
) -> None:
    await on_server.create_stream("ORDERS")
    await on_server.post("/streams/ORDERS/consumers", json={"durable_name": "shipper"})
    await _sign_in(client, make_user)
    for tab, marker in (
        ("overview", "State"),
        ("consumers", "shipper"),
        ("config", "max_msgs"),
        ("messages", "message browser"),
    ):
        page = await client.get(f"{BASE}/ORDERS?tab={tab}", headers=HTML)
        assert page.status_code == 200, page.text
        assert marker in page.text
        assert '<nav class="sidenav"' in page.text
        fragment = await client.get(
            f"{BASE}/ORDERS?tab={tab}",
            headers={**HTML, "HX-Request": "true", "HX-Target": "stream_tab"},
        )
        assert fragment.status_code == 200
        assert fragment.text.lstrip().startswith('<div id="stream_tab">')
        assert marker in fragment.text
    consumer = await client.get(f"{BASE}/ORDERS/consumers/shipper", headers=HTML)
    assert consumer.status_code == 200, consumer.text
    assert "shipper" in consumer.text


async def test_an_unknown_stream_or_a_name_with_a_dot_is_not_found(
    client, make_user, on_server
) -> None:
    await _sign_in(client, make_user)
    assert (await client.get(f"{BASE}/NOPE", headers=HTML)).status_code == 404
    assert (await client.get(f"{BASE}/a.b", headers=HTML)).status_code == 404
