"""The console's shell and dashboard over HTTP: one URL serves the page or, for htmx, its
fragment; static files are hashed, immutable and compressed; the dashboard reads the latest
collection."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from services.web.assets import asset
from services.web.console import form_errors
from services.web.formatting import duration, human_bytes, milliseconds, number, reltime
from shared.errors import Conflict, Invalid
from shared.nats.errors import domain_error
from tests.fixtures.accounts import web_login
from tests.services.api.test_metrics import collect

HTML = {"Accept": "text/html"}
HTMX = {**HTML, "HX-Request": "true", "HX-Target": "dashboard_live"}


async def _sign_in(client: Any, make_user: Any, role: str = "viewer", org: str = "acme") -> None:
    await make_user(f"{role}@example.com", org_slug=org, role=role)
    assert (await web_login(client, f"{role}@example.com")).status_code == 303


async def test_a_signed_in_user_lands_on_their_first_organizations_dashboard(
    client, make_user
) -> None:
    await _sign_in(client, make_user)
    home = await client.get("/", headers=HTML)
    assert home.status_code == 303
    assert home.headers["location"] == "/orgs/acme"


async def test_service_status_stays_readable_by_anyone_at_status(client) -> None:
    response = await client.get("/status", headers=HTML)
    assert response.status_code == 200
    assert "database" in response.text and "worker" in response.text


async def test_an_organization_without_clusters_is_told_to_register_one(client, make_user) -> None:
    await _sign_in(client, make_user, role="admin")
    page = await client.get("/orgs/acme", headers=HTML)
    assert page.status_code == 200, page.text
    assert "No cluster yet" in page.text
    assert 'href="/orgs/acme/clusters"' in page.text
    clusters = await client.get("/orgs/acme/clusters", headers=HTML)
    assert clusters.status_code == 200
    assert "No cluster yet" in clusters.text


async def test_the_shell_has_landmarks_switchers_and_breadcrumbs(client, make_user) -> None:
    await make_user("viewer@example.com", org_slug="globex", role="owner")
    await _sign_in(client, make_user)
    page = (await client.get("/orgs/acme", headers=HTML)).text
    assert '<nav class="sidenav" aria-label="Console">' in page
    assert '<nav aria-label="Breadcrumb"' in page
    assert '<main id="main"' in page
    assert 'href="/orgs/globex"' in page and 'href="/orgs/acme" aria-current="true"' in page
    assert "Sign out" in page and 'hx-headers=\'{"X-CSRF-Token"' in page


async def test_a_cluster_registered_after_a_page_was_served_is_in_the_next_pages_switcher(
    client, make_user, register_cluster, nats_server
) -> None:
    # The top bar's lists are reused for a few seconds, but not past a write of this process.
    def switcher(page: str) -> str:
        menu = page.split('<span class="switcher-label">Cluster</span>', 1)[1]
        return menu.split("</details>")[0]

    await _sign_in(client, make_user)
    first = (await client.get("/orgs/acme/clusters", headers=HTML)).text
    assert "/orgs/acme/clusters/second" not in switcher(first)
    await register_cluster(nats_server, "second")
    again = (await client.get("/orgs/acme/clusters", headers=HTML)).text
    assert 'href="/orgs/acme/clusters/second"' in switcher(again)


async def test_another_organizations_dashboard_is_not_found(client, make_user) -> None:
    await make_user("someone@example.com", org_slug="globex", role="owner")
    await _sign_in(client, make_user)
    assert (await client.get("/orgs/globex", headers=HTML)).status_code == 404


async def test_an_htmx_request_gets_the_named_fragment_and_every_answer_varies_on_it(
    client, make_user, on_server
) -> None:
    await _sign_in(client, make_user)
    full = await client.get("/orgs/acme", headers=HTML)
    fragment = await client.get("/orgs/acme", headers=HTMX)
    assert full.status_code == fragment.status_code == 200
    for response in (full, fragment):
        assert "HX-Request" in response.headers["vary"]
        assert response.headers["cache-control"] == "no-store"
    assert full.text.startswith("<!doctype html>")
    assert fragment.text.lstrip().startswith('<div id="dashboard_live"')
    assert "<html" not in fragment.text and "Sign out" not in fragment.text
    assert "every 10s [document.visibilityState === &#39;visible&#39;]" in fragment.text
    restored = await client.get(
        "/orgs/acme", headers={**HTMX, "HX-History-Restore-Request": "true"}
    )
    assert restored.text.startswith("<!doctype html>")  # back button: the whole page


async def test_the_dashboard_shows_a_collected_cluster_and_its_consumers_backlog(
    client, make_user, settings, clickhouse, on_server, nats_server
) -> None:
    await on_server.create_stream("ORDERS", max_msgs=10)
    for i in range(8):
        assert (
            await on_server.post(
                "/streams/ORDERS/messages", json={"subject": "orders.new", "text": str(i)}
            )
        ).status_code in (200, 201)
    created = await on_server.post(
        "/streams/ORDERS/consumers", json={"durable_name": "BILLING", "ack_policy": "explicit"}
    )
    assert created.status_code == 201, created.text
    await _sign_in(client, make_user)
    before = (await client.get("/orgs/acme", headers=HTML)).text
    assert "not collected yet" in before

    await collect(settings)

    page = (await client.get("/orgs/acme", headers=HTMX)).text
    assert "reachable" in page and "1 / 1" in page  # listing without $SYS: the server it is on
    assert re.search(r"ORDERS.*?messages.*?8 / 10 \(80%\)", page, re.S), page
    assert re.search(r"BILLING.*?<td>8</td>", page, re.S), page

    # A purge through JetDeck shows at once: the streams nearest their limits come from the
    # cluster's shared listing, which the purge made stale in every process.
    purged = await on_server.post("/streams/ORDERS/purge", json={"keep": 2})
    assert purged.status_code == 200, purged.text
    page = (await client.get("/orgs/acme", headers=HTMX)).text
    assert re.search(r"ORDERS.*?messages.*?2 / 10 \(20%\)", page, re.S), page

    # Every link on the page leads somewhere: pages not built yet are not linked.
    full = (await client.get("/orgs/acme", headers=HTML)).text
    links = set(re.findall(r'href="(/[^"]*)"', full)) - {"/api/docs"}
    assert "/orgs/acme/clusters" in links
    for link in sorted(links):
        answer = await client.get(link, headers=HTML)
        assert answer.status_code in (200, 303), (link, answer.status_code)


async def test_static_files_have_hashed_names_and_are_immutable_and_compressed(client) -> None:
    url = asset("htmx.js")
    assert re.fullmatch(r"/static/htmx\.[0-9a-f]{12}\.js", url)
    response = await client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "max-age=31536000, public, immutable"
    assert response.headers["content-encoding"] == "gzip"
    assert "javascript" in response.headers["content-type"]
    assert b"htmx" in response.content  # httpx decoded it


async def test_pages_are_compressed_for_clients_that_accept_gzip(client) -> None:
    response = await client.get("/status", headers={**HTML, "Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    raw = await client.get(asset("app.css"), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content)


def test_a_nats_refusal_shows_its_description_beside_the_field_it_concerns() -> None:
    exc = domain_error(
        {"code": 400, "err_code": 10058, "description": "stream name already in use"},
        cluster="main",
    )
    assert form_errors(exc, nats_fields={10058: "name"}) == {"name": "stream name already in use"}
    assert form_errors(exc) == {"__all__": "stream name already in use"}
    named = Invalid("That seed is not an nkey seed.", extra={"field": "auth.seed"})
    assert form_errors(named) == {"auth.seed": "That seed is not an nkey seed."}
    # `codes`: the field an error's code concerns, when the error names none itself.
    member = Conflict("a@example.com is already a member.", code="already_member")
    assert form_errors(member, codes={"already_member": "email"}) == {"email": member.detail}
    assert form_errors(named, codes={"invalid": "other"}) == {"auth.seed": named.detail}


def test_numbers_bytes_durations_and_times_read_like_a_person_writes_them() -> None:
    assert human_bytes(512) == "512 B" and human_bytes(1536) == "1.5 KiB"
    assert human_bytes(3 * 1024**3) == "3.0 GiB"
    assert number(1234567) == "1,234,567" and number(None) == "—"
    assert duration(45) == "45s" and duration(7500) == "2h 5m" and duration(90061) == "1d 1h"
    assert milliseconds(0.4321) == "0.4 ms" and milliseconds(1234.4) == "1,234 ms"
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert reltime(now - timedelta(minutes=3), now) == "3m ago"
    assert reltime(now + timedelta(hours=2), now) == "in 2h"
    assert reltime(None, now) == "never"


def test_a_page_is_sent_in_a_few_pieces_the_first_at_the_end_of_its_head() -> None:
    from services.web.pages import pieces

    parts = iter(["<head>", "x" * 10, "</head>", *["<tr>row</tr>"] * 100])
    sent = list(pieces(parts, first=16, size=400))
    assert "".join(sent) == "<head>" + "x" * 10 + "</head>" + "<tr>row</tr>" * 100
    assert sent[0] == "<head>xxxxxxxxxx"  # leaves as soon as 16 characters are there
    assert all(len(piece) >= 400 for piece in sent[1:-1]) and len(sent) == 4
    assert list(pieces(iter([]))) == []
    head = list(pieces(iter(["<head><title>t</title>", "</head>\n<body>", "x" * 50]), size=10))
    assert head == ["<head><title>t</title></head>\n<body>", "x" * 50]  # the head, at once


async def test_a_page_streams_whole_and_a_fragment_comes_in_one_piece(client, make_user) -> None:
    await _sign_in(client, make_user, role="admin")
    page = await client.get("/orgs/acme", headers=HTML)
    assert page.status_code == 200
    assert "content-length" not in page.headers  # sent as it renders
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store" and "HX-Request" in page.headers["vary"]
    assert page.text.rstrip().endswith("</html>") and page.text.count("<html") == 1
    fragment = await client.get("/orgs/acme", headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "content-length" in fragment.headers  # rendered whole, then sent


def test_templates_are_compiled_once_outside_development() -> None:
    from services.web.app import template_config

    for reload in (False, True):
        engine = template_config(reload=reload).to_engine().engine
        assert engine.auto_reload is reload
        assert "usage_bar" in engine.globals and "bytes" in engine.filters
