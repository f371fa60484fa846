"""The clusters pages without a browser: register after testing the connection (a real NATS
server), errors beside their fields with the form as typed (secrets excepted), the edit form
keeping secrets left empty, collection on/off, deletion by typed name, the natscli import,
and a viewer who sees no control and whose forged POSTs are refused."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from shared.audit.trail import list_events
from shared.clusters.models import Cluster
from shared.metrics.collector import cycle_time
from tests.fixtures.accounts import csrf_token, web_login
from tests.services.api.test_metrics import collect

HTML = {"Accept": "text/html"}
BASE = "/orgs/acme/clusters"


async def _sign_in(client: Any, make_user: Any, role: str) -> str:
    await make_user(f"{role}@acme.test", org_slug="acme", role=role)
    client.cookies.clear()  # a fresh browser
    assert (await web_login(client, f"{role}@acme.test")).status_code == 303
    return csrf_token((await client.get("/account", headers=HTML)).text)


def multipart(form: dict[str, str]) -> dict[str, Any]:
    """A form posted as the browser posts these (multipart), with an empty file input."""
    return {"data": form, "files": {"tls.ca_pem_file": ("", b"", "application/octet-stream")}}


def _form(target: Any, token: str, **extra: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "name": "main",
        "servers": "\n".join(target.servers),
        "environment": "test",
        "labels": "team=payments\nregion=eu",
        "enabled": "on",
        "auth.type": "user_password",
        "auth.username": target.user,
        "auth.password": target.password,
        "system_auth.type": "none",
        **extra,
    }


async def _events(accounts: Any, action: str) -> list[Any]:
    org = await accounts.make_org("acme")
    return (await list_events(accounts.db, org.id, action=action)).items


async def test_an_admin_tests_the_connection_then_registers_and_opens_the_cluster(
    client, make_user, accounts, nats_server
) -> None:
    token = await _sign_in(client, make_user, "admin")
    page = await client.get(f"{BASE}/new", headers=HTML)
    assert page.status_code == 200
    assert 'name="auth.type"' in page.text and 'name="tls.ca_pem_file"' in page.text

    tested = await client.post(
        f"{BASE}/new/test",
        **multipart(_form(nats_server, token)),  # multipart, as the form posts
        headers={**HTML, "HX-Request": "true", "HX-Target": "connection_test"},
    )
    assert tested.status_code == 200, tested.text
    assert tested.text.lstrip().startswith('<div id="connection_test"')
    assert "Connected." in tested.text and "round trip" in tested.text
    assert "streams" in tested.text
    async with accounts.db.session() as session:  # tested, not saved
        assert (await session.scalar(select(Cluster.id))) is None
    assert await _events(accounts, "cluster.create") == []

    wrong = await client.post(
        f"{BASE}/new/test",
        **multipart(_form(nats_server, token, **{"auth.password": "not-the-password"})),
        headers={**HTML, "HX-Request": "true", "HX-Target": "connection_test"},
    )
    assert "Connection failed" in wrong.text and "cluster_auth_failed" in wrong.text

    registered = await client.post(
        f"{BASE}/new", **multipart(_form(nats_server, token)), headers=HTML
    )
    assert registered.status_code == 303, registered.text
    assert registered.headers["location"] == f"{BASE}/main"
    (event,) = await _events(accounts, "cluster.create")
    assert event.actor.label == "admin@acme.test" and event.target == "cluster:main"
    assert nats_server.password not in json.dumps(event.diff)

    listing = await client.get(BASE, headers=HTML)
    assert "team=payments" in listing.text and "Register a cluster" in listing.text
    cluster = await client.get(f"{BASE}/main", headers=HTML)
    assert cluster.status_code == 200
    assert "JetStream account usage" in cluster.text and "Servers" in cluster.text
    assert "Delete this cluster" in cluster.text and "/main/edit" in cluster.text


async def test_a_refused_registration_comes_back_with_the_error_beside_its_field(
    client, make_user, accounts, nats_server
) -> None:
    token = await _sign_in(client, make_user, "admin")
    form = _form(
        nats_server, token, **{"auth.type": "nkey", "auth.seed": "SUNOTASEED", "name": "kept-name"}
    )
    response = await client.post(f"{BASE}/new", **multipart(form), headers=HTML)
    assert response.status_code == 422
    assert 'id="f-auth.seed-error"' in response.text
    assert 'value="kept-name"' in response.text  # what was typed comes back…
    assert "SUNOTASEED" not in response.text and nats_server.password not in response.text
    assert "team=payments" in response.text  # …secrets excepted

    bad_server = _form(nats_server, token, servers="http://nope:80")
    response = await client.post(f"{BASE}/new", **multipart(bad_server), headers=HTML)
    assert response.status_code == 422
    assert 'id="f-servers-error"' in response.text
    assert await _events(accounts, "cluster.create") == []


async def test_the_edit_form_keeps_secrets_left_empty_and_audits_the_change(
    client, make_user, accounts, nats_server
) -> None:
    token = await _sign_in(client, make_user, "admin")
    assert (
        await client.post(f"{BASE}/new", **multipart(_form(nats_server, token)))
    ).status_code == 303
    edit = await client.get(f"{BASE}/main/edit", headers=HTML)
    assert "Set; leave empty to keep it." in edit.text
    assert nats_server.password not in edit.text

    change = _form(nats_server, token, environment="staging", **{"auth.password": ""})
    tested = await client.post(
        f"{BASE}/main/edit/test",
        **multipart(change),
        headers={**HTML, "HX-Request": "true", "HX-Target": "connection_test"},
    )
    assert "Connected." in tested.text  # the stored password was used
    saved = await client.post(f"{BASE}/main/edit", **multipart(change), headers=HTML)
    assert saved.status_code == 303, saved.text
    (event,) = await _events(accounts, "cluster.update")
    assert event.diff == {"before": {"environment": "test"}, "after": {"environment": "staging"}}
    cluster = await client.get(f"{BASE}/main", headers=HTML)
    assert "staging" in cluster.text and "Unreachable" not in cluster.text


async def test_collection_is_switched_off_and_a_cluster_deleted_only_by_its_typed_name(
    client, make_user, accounts, nats_server
) -> None:
    token = await _sign_in(client, make_user, "admin")
    assert (
        await client.post(f"{BASE}/new", **multipart(_form(nats_server, token)))
    ).status_code == 303
    off = await client.post(
        f"{BASE}/main/collection", data={"csrf_token": token, "back": BASE}, headers=HTML
    )
    assert off.status_code == 303 and off.headers["location"] == BASE
    assert "Enable<span" in (await client.get(BASE, headers=HTML)).text

    refused = await client.post(
        f"{BASE}/main/delete", data={"csrf_token": token, "confirm": "mian"}, headers=HTML
    )
    assert refused.status_code == 400
    deleted = await client.post(
        f"{BASE}/main/delete", data={"csrf_token": token, "confirm": "main"}, headers=HTML
    )
    assert deleted.status_code == 303
    assert (await client.get(f"{BASE}/main", headers=HTML)).status_code == 404
    assert len(await _events(accounts, "cluster.delete")) == 1


async def test_a_natscli_context_is_imported_with_the_files_it_names(
    client, make_user, accounts, nats_server
) -> None:
    token = await _sign_in(client, make_user, "admin")
    context = {"url": ",".join(nats_server.servers), "creds": "/home/me/ngs.creds"}
    missing = await client.post(
        f"{BASE}/import",
        **multipart({"csrf_token": token, "name": "imported", "context": json.dumps(context)}),
        headers=HTML,
    )
    assert missing.status_code == 422
    assert 'id="f-file_creds-error"' in missing.text and "/home/me/ngs.creds" in missing.text

    context = {
        "url": ",".join(nats_server.servers),
        "user": nats_server.user,
        "password": nats_server.password,
    }
    imported = await client.post(
        f"{BASE}/import",
        **multipart({"csrf_token": token, "name": "imported", "context": json.dumps(context)}),
        headers=HTML,
    )
    assert imported.status_code == 303, imported.text
    assert imported.headers["location"] == f"{BASE}/imported"
    assert len(await _events(accounts, "cluster.import")) == 1


async def test_a_viewer_sees_no_cluster_control_and_forged_posts_are_refused(
    client, make_user, accounts, nats_server
) -> None:
    admin = await _sign_in(client, make_user, "admin")
    assert (
        await client.post(f"{BASE}/new", **multipart(_form(nats_server, admin)))
    ).status_code == 303
    token = await _sign_in(client, make_user, "viewer")
    listing = await client.get(BASE, headers=HTML)
    assert "Register a cluster" not in listing.text and "/collection" not in listing.text
    cluster = await client.get(f"{BASE}/main", headers=HTML)
    assert cluster.status_code == 200
    assert "/edit" not in cluster.text and "/delete" not in cluster.text
    assert (await client.get(f"{BASE}/new", headers=HTML)).status_code == 403
    for path, form in (
        (f"{BASE}/new", _form(nats_server, token, name="forged")),
        (f"{BASE}/new/test", _form(nats_server, token)),
        (f"{BASE}/main/delete", {"csrf_token": token, "confirm": "main"}),
        (f"{BASE}/main/collection", {"csrf_token": token}),
    ):
        assert (await client.post(path, **multipart(form), headers=HTML)).status_code == 403, path
    assert len(await _events(accounts, "cluster.create")) == 1  # the admin's only


async def test_a_cluster_form_without_the_csrf_token_changes_nothing(
    client, make_user, accounts, nats_server
) -> None:
    await _sign_in(client, make_user, "admin")
    form = _form(nats_server, "")
    del form["csrf_token"]
    assert (await client.post(f"{BASE}/new", **multipart(form), headers=HTML)).status_code == 403
    assert await _events(accounts, "cluster.create") == []


async def test_an_uploaded_pem_file_is_read_and_a_bad_one_refused_beside_its_input(
    client, make_user, accounts, nats_server
) -> None:
    token = await _sign_in(client, make_user, "admin")
    response = await client.post(
        f"{BASE}/new",
        data=_form(nats_server, token),
        files={"tls.ca_pem_file": ("ca.pem", b"not a certificate", "application/x-pem-file")},
        headers=HTML,
    )
    assert response.status_code == 422
    assert 'id="f-tls.ca_pem-error"' in response.text and "not a PEM certificate" in response.text
    assert '<details class="section" open>' in response.text  # TLS unfolded to show it
    assert await _events(accounts, "cluster.create") == []


async def test_the_list_shows_what_the_latest_collection_found(
    client, make_user, settings, clickhouse, nats_server
) -> None:
    token = await _sign_in(client, make_user, "admin")
    assert (
        await client.post(f"{BASE}/new", **multipart(_form(nats_server, token)))
    ).status_code == 303
    assert "not collected yet" in (await client.get(BASE, headers=HTML)).text
    await collect(settings, cycle_time(10))
    listing = await client.get(BASE, headers=HTML)
    assert "not collected yet" not in listing.text
    assert re.search(r"reachable</span>\s*1 / 1 servers", listing.text)


async def test_with_system_credentials_the_cluster_page_shows_every_server_and_the_meta_peers(
    client, make_user, nats_cluster
) -> None:
    token = await _sign_in(client, make_user, "admin")
    form = _form(
        nats_cluster,
        token,
        **{
            "system_auth.type": "user_password",
            "system_auth.username": nats_cluster.system_user,
            "system_auth.password": nats_cluster.system_password,
        },
    )
    assert (await client.post(f"{BASE}/new", **multipart(form))).status_code == 303
    page = await client.get(f"{BASE}/main", headers=HTML)
    assert page.status_code == 200
    names = [node.name for node in nats_cluster.nodes]
    assert len(names) == 3
    for name in names:
        assert f'<th scope="row">{name}</th>' in page.text
    # Each server's round trip beside its version and state (the time its VARZ reply took).
    assert ">RTT</abbr></th>" in page.text
    rtts = re.findall(r'state-ok">reachable</span></td>\s*<td>([0-9.,]+) ms</td>', page.text)
    assert len(rtts) == 3
    assert "Meta cluster" in page.text and "Leader <strong>" in page.text
    assert "JetStream storage" in page.text
    assert nats_cluster.system_password not in page.text
    live = await client.get(
        f"{BASE}/main", headers={**HTML, "HX-Request": "true", "HX-Target": "cluster_live"}
    )
    assert live.text.lstrip().startswith('<div id="cluster_live"')
