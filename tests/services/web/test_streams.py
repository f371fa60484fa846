"""The console's streams and consumers over HTTP (fast: AsyncTestClient on the test NATS):
the list's search, sort and paging; the create and edit forms with their JSON tab, dry-run
diff and NATS errors beside the field; purge, seal and delete; consumers; viewers."""

from __future__ import annotations

import json
import re
from typing import Any

from shared.audit.trail import list_events
from tests.fixtures.accounts import csrf_token, web_login

HTML = {"Accept": "text/html"}
BASE = "/orgs/acme/clusters/main/streams"
NEW = "/orgs/acme/clusters/main/new-stream"


async def _sign_in(client: Any, make_user: Any, role: str = "viewer") -> str:
    """Sign in as `web-<role>@example.com`; returns the session's CSRF token."""
    await make_user(f"web-{role}@example.com", org_slug="acme", role=role)
    assert (await web_login(client, f"web-{role}@example.com")).status_code == 303
    return csrf_token((await client.get("/orgs/acme", headers=HTML)).text)


def _rows(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/orgs/acme/clusters/main/streams/([^"]+)">', html)


async def test_the_stream_page_has_a_tab_per_view_and_htmx_swaps_only_the_tab(
    client, make_user, on_server
) -> None:
    await on_server.create_stream("ORDERS")
    await on_server.post("/streams/ORDERS/consumers", json={"durable_name": "shipper"})
    await _sign_in(client, make_user)
    for tab, marker in (
        ("overview", "Placement and replicas"),
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


async def test_the_list_searches_sorts_and_pages_over_more_streams_than_one_nats_page(
    client, make_user, on_server, nats_server
) -> None:
    nc = await nats_server.connect()
    try:
        js = nc.jetstream()
        for i in range(300):  # > 256: the listing takes two STREAM.LIST pages
            await js.add_stream(name=f"S{i:03d}", subjects=[f"s{i:03d}.>"], storage="memory")
        await js.publish("s299.x", b"one")
        await js.publish("s299.x", b"two")
    finally:
        await nc.close()
    await _sign_in(client, make_user)
    first = await client.get(BASE, headers=HTML)
    assert first.status_code == 200, first.text
    assert "300 streams" in first.text
    assert _rows(first.text) == [f"S{i:03d}" for i in range(50)]
    assert "Page 1 of 6" in first.text
    last = await client.get(f"{BASE}?page=6", headers=HTML)
    assert _rows(last.text) == [f"S{i:03d}" for i in range(250, 300)]
    by_messages = await client.get(f"{BASE}?sort=-messages", headers=HTML)
    assert _rows(by_messages.text)[0] == "S299"
    assert 'aria-sort="descending"' in by_messages.text
    found = await client.get(
        f"{BASE}?search=S12", headers={**HTML, "HX-Request": "true", "HX-Target": "streams_table"}
    )
    assert found.text.lstrip().startswith('<div id="streams_table"')
    assert _rows(found.text) == [f"S{i}" for i in range(120, 130)]
    by_subject = await client.get(f"{BASE}?search=s007.>", headers=HTML)
    assert _rows(by_subject.text) == ["S007"]
    past_the_end = await client.get(f"{BASE}?page=99&search=S12", headers=HTML)
    assert "Page" not in past_the_end.text and len(_rows(past_the_end.text)) == 10


def _consumer_rows(html: str, stream: str) -> list[str]:
    return re.findall(rf'<th scope="row"><a href="{BASE}/{stream}/consumers/([^"]+)">', html)


async def test_the_consumers_tab_searches_sorts_and_pages_more_consumers_than_a_page(
    client, make_user, on_server, nats_server
) -> None:
    nc = await nats_server.connect()
    try:
        js = nc.jetstream()
        await js.add_stream(name="P", subjects=["p.>"], storage="memory")
        for i in range(119):
            await js.add_consumer("P", durable_name=f"c{i:03d}", filter_subject=f"p.{i:03d}")
        await js.add_consumer("P", durable_name="zz-hot", filter_subject="p.hot")
        for _ in range(3):
            await js.publish("p.hot", b"x")
    finally:
        await nc.close()
    await _sign_in(client, make_user)
    url = f"{BASE}/P?tab=consumers"
    first = await client.get(url, headers=HTML)
    assert first.status_code == 200, first.text
    assert "120 consumers" in first.text and "Page 1 of 3" in first.text
    assert _consumer_rows(first.text, "P") == [f"c{i:03d}" for i in range(50)]  # one page only
    last = await client.get(f"{url}&page=3", headers=HTML)
    assert _consumer_rows(last.text, "P") == [*(f"c{i:03d}" for i in range(100, 119)), "zz-hot"]
    past_the_end = await client.get(f"{url}&page=99", headers=HTML)
    assert _consumer_rows(past_the_end.text, "P") == _consumer_rows(last.text, "P")
    by_pending = await client.get(f"{url}&sort=-pending", headers=HTML)
    assert _consumer_rows(by_pending.text, "P")[:2] == ["zz-hot", "c000"]  # ties by name
    assert 'aria-sort="descending"' in by_pending.text
    # The live refresh keeps the view: it asks for the same URL.
    assert f'hx-get="{BASE}/P?tab=consumers&amp;sort=-pending"' in by_pending.text
    found = await client.get(
        f"{url}&search=C01", headers={**HTML, "HX-Request": "true", "HX-Target": "consumers_table"}
    )
    assert found.text.lstrip().startswith('<div id="consumers_table"')
    assert _consumer_rows(found.text, "P") == [f"c{i:03d}" for i in range(10, 20)]
    assert "Page" not in found.text
    by_filter = await client.get(f"{url}&search=p.hot", headers=HTML)
    assert _consumer_rows(by_filter.text, "P") == ["zz-hot"]
    assert "No consumer matches" in (await client.get(f"{url}&search=nope", headers=HTML)).text
    odd = await client.get(f"{url}&page=x&sort=bogus", headers=HTML)  # ignored, not an error
    assert odd.status_code == 200 and _consumer_rows(odd.text, "P")[0] == "c000"


async def test_a_stream_created_or_deleted_here_shows_at_once_despite_the_listing_cache(
    client, make_user, on_server
) -> None:
    token = await _sign_in(client, make_user, "editor")
    assert _rows((await client.get(BASE, headers=HTML)).text) == []
    created = await client.post(
        NEW,
        data={"csrf_token": token, "mode": "form", "name": "FRESH", "subjects": "fresh.>",
              "storage": "memory", "max_msgs": "1000", "max_age": "1h"},
        headers=HTML,
    )  # fmt: skip
    assert created.status_code == 303, created.text
    assert created.headers["location"] == f"{BASE}/FRESH"
    assert _rows((await client.get(BASE, headers=HTML)).text) == ["FRESH"]
    info = (await on_server.get("/streams/FRESH")).json()["config"]
    assert info["max_msgs"] == 1000 and info["max_age"] == 3600 * 10**9
    deleted = await client.post(
        f"{BASE}/FRESH/delete", data={"csrf_token": token, "confirm": "FRESH"}, headers=HTML
    )
    assert deleted.status_code == 303
    assert _rows((await client.get(BASE, headers=HTML)).text) == []


async def test_the_json_tab_round_trips_with_the_form_and_creates_from_nats_json(
    client, make_user, on_server
) -> None:
    token = await _sign_in(client, make_user, "editor")
    form = {"csrf_token": token, "mode": "form", "name": "RT", "subjects": "rt.a\nrt.b",
            "storage": "memory", "max_age": "1h30m", "metadata": "team=ops",
            "republish_dest": "copy.>", "duplicate_window": "90s", "deny_delete": "on"}  # fmt: skip
    as_json = await client.post(f"{NEW}/form", data={**form, "switch": "json"}, headers=HTML)
    assert as_json.status_code == 200, as_json.text
    text = re.search(r'<textarea id="f-json"[^>]*>(.*?)</textarea>', as_json.text, re.S)
    assert text is not None
    config = json.loads(text.group(1).replace("&#34;", '"').replace("&gt;", ">"))
    assert config["subjects"] == ["rt.a", "rt.b"]
    assert config["max_age"] == 5400 * 10**9 and config["duplicate_window"] == 90 * 10**9
    assert config["metadata"] == {"team": "ops"}
    assert config["republish"] == {"src": ">", "dest": "copy.>"}
    back = await client.post(
        f"{NEW}/form",
        data={"csrf_token": token, "mode": "json", "json": json.dumps(config), "switch": "form"},
        headers=HTML,
    )
    assert back.status_code == 200
    assert 'value="1h30m"' in back.text and "team=ops" in back.text
    assert 'name="deny_delete" checked' in back.text
    created = await client.post(
        NEW, data={"csrf_token": token, "mode": "json", "json": json.dumps(config)}, headers=HTML
    )
    assert created.status_code == 303, created.text
    stored = (await on_server.get("/streams/RT")).json()["config"]
    assert stored["republish"]["dest"] == "copy.>" and stored["deny_delete"] is True


async def test_a_nats_refusal_shows_beside_its_field_with_what_was_typed(
    client, make_user, on_server
) -> None:
    await on_server.create_stream("TAKEN", subjects=["taken.>"])
    token = await _sign_in(client, make_user, "editor")
    overlap = await client.post(
        NEW,
        data={"csrf_token": token, "mode": "form", "name": "OTHER", "subjects": "taken.x",
              "description": "typed by hand", "storage": "memory"},
        headers=HTML,
    )  # fmt: skip
    assert overlap.status_code == 422
    error = re.search(r'id="f-subjects-error">([^<]*)<', overlap.text)
    assert error is not None and "overlap" in error.group(1)
    assert 'value="typed by hand"' in overlap.text
    bad_age = await client.post(
        NEW, data={"csrf_token": token, "mode": "form", "name": "X", "max_age": "soon"},
        headers=HTML,
    )  # fmt: skip
    assert bad_age.status_code == 422
    assert 'id="f-max_age-error"' in bad_age.text and 'value="soon"' in bad_age.text
    bad_json = await client.post(
        NEW, data={"csrf_token": token, "mode": "json", "json": "{nope"}, headers=HTML
    )
    assert bad_json.status_code == 422
    assert 'id="f-json-error"' in bad_json.text and "{nope" in bad_json.text
    in_use_json = await client.post(
        NEW,
        data={"csrf_token": token, "mode": "json",
              "json": json.dumps({"name": "TAKEN", "subjects": ["else.>"], "storage": "memory"})},
        headers={**HTML, "HX-Request": "true", "HX-Target": "stream_form"},
    )  # fmt: skip
    assert in_use_json.status_code == 422
    assert in_use_json.text.lstrip().startswith('<div id="stream_form">')
    assert 'id="f-json-error"' in in_use_json.text


async def test_saving_the_config_first_shows_the_dry_run_diff_then_applies_it(
    client, make_user, on_server, accounts
) -> None:
    await on_server.create_stream("EDIT", max_msgs=100)
    token = await _sign_in(client, make_user, "editor")
    page = await client.get(f"{BASE}/EDIT?tab=config", headers=HTML)
    assert 'value="100"' in page.text
    review = await client.post(
        f"{BASE}/EDIT/config/review",
        data={"csrf_token": token, "mode": "form", "name": "EDIT", "subjects": "edit.>",
              "storage": "file", "max_msgs": "500"},
        headers=HTML,
    )  # fmt: skip
    assert review.status_code == 200, review.text
    assert "Review the changes" in review.text
    assert "<code>max_msgs</code>" in review.text and "cannot change" in review.text  # storage
    assert "Apply" not in review.text.split("Review the changes")[1].split("</section>")[0] or (
        "NATS cannot change storage" in review.text
    )
    assert (await on_server.get("/streams/EDIT")).json()["config"]["max_msgs"] == 100
    review = await client.post(
        f"{BASE}/EDIT/config/review",
        data={"csrf_token": token, "mode": "form", "name": "EDIT", "subjects": "edit.>",
              "storage": "memory", "max_msgs": "500"},
        headers=HTML,
    )  # fmt: skip
    assert "Apply 1 change" in review.text
    apply = re.search(r'name="apply" value="([^"]*)"', review.text)
    assert apply is not None
    applied = await client.post(
        f"{BASE}/EDIT/config",
        data={"csrf_token": token,
              "apply": apply.group(1).replace("&#34;", '"').replace("&gt;", ">")},
        headers=HTML,
    )  # fmt: skip
    assert applied.status_code == 303, applied.text
    assert (await on_server.get("/streams/EDIT")).json()["config"]["max_msgs"] == 500
    org = await accounts.make_org("acme")
    events = (await list_events(accounts.db, org.id, action="stream.update")).items
    assert [e.actor.label for e in events] == ["web-editor@example.com"]


async def test_purge_shows_what_it_removes_before_purging(
    client, make_user, on_server, nats_server
) -> None:
    await on_server.create_stream("P")
    nc = await nats_server.connect()
    try:
        js = nc.jetstream()
        for _ in range(5):
            await js.publish("p.a", b"a")
        for _ in range(3):
            await js.publish("p.b", b"b")
    finally:
        await nc.close()
    token = await _sign_in(client, make_user, "editor")
    preview = await client.post(
        f"{BASE}/P/purge/preview", data={"csrf_token": token, "kind": "subject", "subject": "p.a"},
        headers={**HTML, "HX-Request": "true", "HX-Target": "stream_actions"},
    )  # fmt: skip
    assert preview.status_code == 200, preview.text
    assert preview.text.lstrip().startswith('<section id="stream_actions"')
    assert "<strong>5</strong> messages of 8" in preview.text
    keep = await client.post(
        f"{BASE}/P/purge/preview",
        data={"csrf_token": token, "kind": "keep", "keep": "6"},
        headers=HTML,
    )
    assert "<strong>2</strong> messages of 8" in keep.text
    below = await client.post(
        f"{BASE}/P/purge/preview",
        data={"csrf_token": token, "kind": "seq", "seq": "4"},
        headers=HTML,
    )
    assert "<strong>3</strong> messages of 8" in below.text
    missing = await client.post(
        f"{BASE}/P/purge/preview", data={"csrf_token": token, "kind": "keep"}, headers=HTML
    )
    assert missing.status_code == 422 and 'id="f-keep-error"' in missing.text
    done = await client.post(
        f"{BASE}/P/purge",
        data={"csrf_token": token, "kind": "subject", "subject": "p.a"},
        headers=HTML,
    )
    assert done.status_code == 303 and done.headers["location"] == f"{BASE}/P?purged=5"
    assert (await on_server.get("/streams/P")).json()["state"]["messages"] == 3
    assert "Purged 5 messages" in (await client.get(f"{BASE}/P?purged=5", headers=HTML)).text


async def test_seal_and_delete_need_the_typed_name(client, make_user, on_server) -> None:
    await on_server.create_stream("GONE")
    token = await _sign_in(client, make_user, "editor")
    wrong = await client.post(
        f"{BASE}/GONE/delete", data={"csrf_token": token, "confirm": "gone"}, headers=HTML
    )
    assert wrong.status_code == 400
    assert (await on_server.get("/streams/GONE")).status_code == 200
    sealed = await client.post(
        f"{BASE}/GONE/seal", data={"csrf_token": token, "confirm": "GONE"}, headers=HTML
    )
    assert sealed.status_code == 303
    assert (await on_server.get("/streams/GONE")).json()["config"]["sealed"] is True
    assert "Seal…" not in (await client.get(f"{BASE}/GONE", headers=HTML)).text


async def test_consumers_are_created_paused_resumed_edited_and_deleted_from_forms(
    client, make_user, on_server
) -> None:
    await on_server.create_stream("C")
    token = await _sign_in(client, make_user, "editor")
    new = f"{BASE}/C/new-consumer"
    assert (await client.get(new, headers=HTML)).status_code == 200
    created = await client.post(
        new,
        data={"csrf_token": token, "mode": "form", "name": "worker", "durable": "on",
              "kind": "pull", "filter_subjects": "c.a\nc.b", "ack_policy": "explicit",
              "deliver_policy": "all", "ack_wait": "45s", "backoff": "1s, 5s",
              "max_deliver": "4", "metadata": "owner=team"},
        headers=HTML,
    )  # fmt: skip
    assert created.status_code == 303, created.text
    page_url = created.headers["location"]
    assert page_url == f"{BASE}/C/consumers/worker"
    config = (await on_server.get("/streams/C/consumers/worker")).json()["config"]
    assert config["filter_subjects"] == ["c.a", "c.b"] and config["max_deliver"] == 4
    assert config["backoff"] == [10**9, 5 * 10**9] and config["metadata"]["owner"] == "team"
    table = await client.get(f"{BASE}/C?tab=consumers", headers=HTML)
    assert "worker" in table.text and "<code>c.a</code>" in table.text

    paused = await client.post(
        f"{page_url}/pause", data={"csrf_token": token, "until": "2099-01-01T00:00:00"},
        headers=HTML,
    )  # fmt: skip
    assert paused.status_code == 303
    assert (await on_server.get("/streams/C/consumers/worker")).json().get("paused") is True
    assert "Resume now" in (await client.get(page_url, headers=HTML)).text
    resumed = await client.post(
        f"{page_url}/pause", data={"csrf_token": token, "resume": "1"}, headers=HTML
    )
    assert resumed.status_code == 303
    assert not (await on_server.get("/streams/C/consumers/worker")).json().get("paused")

    review = await client.post(
        f"{page_url}/edit/review",
        data={"csrf_token": token, "mode": "form", "name": "worker", "durable": "on",
              "kind": "pull", "filter_subjects": "c.a\nc.b", "ack_policy": "none",
              "deliver_policy": "all", "ack_wait": "45s", "backoff": "1s, 5s",
              "max_deliver": "9", "metadata": "owner=team"},
        headers=HTML,
    )  # fmt: skip
    assert review.status_code == 200, review.text
    assert "<code>max_deliver</code>" in review.text
    assert "ack policy can not be updated" in review.text
    review = await client.post(
        f"{page_url}/edit/review",
        data={"csrf_token": token, "mode": "json", "json": json.dumps({"max_deliver": 9})},
        headers=HTML,
    )
    assert "Apply 1 change" in review.text
    apply = re.search(r'name="apply" value="([^"]*)"', review.text)
    assert apply is not None
    applied = await client.post(
        f"{page_url}/edit",
        data={"csrf_token": token, "apply": apply.group(1).replace("&#34;", '"')},
        headers=HTML,
    )
    assert applied.status_code == 303, applied.text
    assert (await on_server.get("/streams/C/consumers/worker")).json()["config"]["max_deliver"] == 9
    deleted = await client.post(
        f"{page_url}/delete", data={"csrf_token": token, "confirm": "worker"}, headers=HTML
    )
    assert deleted.status_code == 303
    assert (await on_server.get("/streams/C/consumers/worker")).status_code == 404


async def test_a_consumer_refused_by_nats_comes_back_with_the_error_beside_the_field(
    client, make_user, on_server
) -> None:
    await on_server.create_stream("CE")
    token = await _sign_in(client, make_user, "editor")
    refused = await client.post(
        f"{BASE}/CE/new-consumer",
        data={"csrf_token": token, "mode": "form", "name": "w", "durable": "on", "kind": "pull",
              "ack_policy": "explicit", "deliver_policy": "all", "max_deliver": "2",
              "backoff": "1s, 2s, 3s"},
        headers=HTML,
    )  # fmt: skip
    assert refused.status_code == 422, refused.text
    assert 'id="f-backoff-error"' in refused.text and 'value="1s, 2s, 3s"' in refused.text


FORGEABLE = [
    "/orgs/acme/clusters/main/new-stream",
    "/orgs/acme/clusters/main/new-stream/form",
    f"{BASE}/V/config/review",
    f"{BASE}/V/purge/preview",
    f"{BASE}/V/new-consumer/form",
    f"{BASE}/V/consumers/v1/edit/review",
    f"{BASE}/V/config",
    f"{BASE}/V/purge",
    f"{BASE}/V/seal",
    f"{BASE}/V/delete",
    f"{BASE}/V/new-consumer",
    f"{BASE}/V/consumers/v1/edit",
    f"{BASE}/V/consumers/v1/pause",
    f"{BASE}/V/consumers/v1/delete",
]


async def test_a_viewer_sees_no_controls_and_a_forged_post_is_refused(
    client, make_user, on_server
) -> None:
    await on_server.create_stream("V")
    await on_server.post("/streams/V/consumers", json={"durable_name": "v1"})
    token = await _sign_in(client, make_user, "viewer")
    for url in (BASE, f"{BASE}/V", f"{BASE}/V?tab=consumers", f"{BASE}/V?tab=config",
                f"{BASE}/V/consumers/v1"):  # fmt: skip
        page = (await client.get(url, headers=HTML)).text
        for control in ('/new-stream"', '/new-consumer"', '/purge"', '/seal"', '/delete"',
                        '/config"', '/edit"', '/pause"', '/review"', '/preview"'):  # fmt: skip
            assert control not in page, (url, control)
    for path in FORGEABLE:
        forged = await client.post(
            path, data={"csrf_token": token, "confirm": "V", "name": "X", "kind": "all"},
            headers=HTML,
        )  # fmt: skip
        assert forged.status_code == 403, path
    assert (await on_server.get("/streams/V")).status_code == 200
