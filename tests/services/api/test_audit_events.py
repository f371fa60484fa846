"""The audit trail: every mutation recorded by one mechanism, secrets redacted, append-only."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, post
from litestar.di import NamedDependency
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import services.api.app as api_app
from services.access import Access, access
from services.api.auth import OrgContext
from services.app import create_app
from shared.audit import record_change
from shared.audit.redact import REDACTED, diff, redact

EVENTS = "/api/v1/orgs/acme/audit-events"


@post("/orgs/{org:str}/probe", opt=access(Access.EDITOR, audit="probe.touch"))
async def probe_recording_nothing(org_context: NamedDependency[OrgContext]) -> dict[str, str]:
    return {"ok": "yes"}


@post("/orgs/{org:str}/probe-change", opt=access(Access.EDITOR, audit="probe.configure"))
async def probe_recording_a_secret(org_context: NamedDependency[OrgContext]) -> dict[str, str]:
    record_change(
        "cluster:prod",
        {"name": "prod", "auth": {"password": "old-secret-1"}},
        {"name": "prod", "auth": {"password": "new-secret-2"}, "tls": {"key_pem": "PEM!"}},
    )
    return {"ok": "yes"}


@post("/orgs/{org:str}/probe-fail", opt=access(Access.EDITOR, audit="probe.fail"))
async def probe_failing(org_context: NamedDependency[OrgContext]) -> None:
    from shared.errors import Conflict

    record_change("thing:x", None, {"a": 1})
    raise Conflict("no")


@post("/orgs/{org:str}/probe-unrecordable", opt=access(Access.EDITOR, audit="probe.odd"))
async def probe_unrecordable(org_context: NamedDependency[OrgContext]) -> dict[str, str]:
    record_change("thing:odd", None, {"value": object()})  # cannot be stored as JSON
    return {"ok": "yes"}


@pytest.fixture
async def probed_client(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app with three routes added the way another feature would add them."""
    monkeypatch.setattr(
        api_app,
        "API_HANDLERS",
        [
            *api_app.API_HANDLERS,
            probe_recording_nothing,
            probe_recording_a_secret,
            probe_failing,
            probe_unrecordable,
        ],
    )
    async with AsyncTestClient(create_app(settings)) as client:
        yield client


async def test_a_mutation_is_recorded_with_actor_org_action_target_diff_ip_and_user_agent(
    client, auth_headers, accounts
) -> None:
    admin = await auth_headers("admin")
    editor = await accounts.make_user("ed@example.com", org_slug="acme", role="editor")
    changed = await client.patch(
        f"/api/v1/orgs/acme/members/{editor.id}",
        json={"role": "viewer"},
        headers={**admin, "User-Agent": "audit-test/1.0"},
    )
    assert changed.status_code == 200
    events = (await client.get(EVENTS, headers=admin)).json()
    assert events["total"] == 1
    event = events["items"][0]
    assert event["action"] == "member.update"
    assert event["actor"]["type"] == "user" and event["actor"]["label"] == "admin@acme.test"
    assert event["target"] == f"member:{editor.id}"
    assert event["diff"] == {"before": {"role": "editor"}, "after": {"role": "viewer"}}
    assert event["ip"]  # the client address as the server saw it
    assert event["user_agent"] == "audit-test/1.0"
    assert {"id", "at", "actor", "action", "target", "ip", "diff"} <= event.keys()


async def test_a_route_added_later_is_audited_without_doing_anything(
    probed_client, auth_headers
) -> None:
    editor = await auth_headers("editor")
    assert (await probed_client.post("/api/v1/orgs/acme/probe", headers=editor)).status_code == 201
    events = (await probed_client.get(EVENTS, headers=await auth_headers("admin"))).json()
    assert [(e["action"], e["diff"], e["actor"]["label"]) for e in events["items"]] == [
        ("probe.touch", {}, "editor@acme.test")
    ]


async def test_secrets_in_a_recorded_change_are_redacted(probed_client, auth_headers) -> None:
    await probed_client.post("/api/v1/orgs/acme/probe-change", headers=await auth_headers("editor"))
    response = await probed_client.get(EVENTS, headers=await auth_headers("admin"))
    event = response.json()["items"][0]
    assert (
        "secret-1" not in response.text
        and "secret-2" not in response.text
        and "PEM!" not in response.text
    )
    assert event["diff"]["before"]["auth"] == {"password": REDACTED}
    assert event["diff"]["after"]["tls"] == {"key_pem": REDACTED}


async def test_a_refused_or_failed_mutation_records_nothing(probed_client, auth_headers) -> None:
    assert (
        await probed_client.post("/api/v1/orgs/acme/probe", headers=await auth_headers("viewer"))
    ).status_code == 403
    assert (
        await probed_client.post(
            "/api/v1/orgs/acme/probe-fail", headers=await auth_headers("editor")
        )
    ).status_code == 409
    events = (await probed_client.get(EVENTS, headers=await auth_headers("admin"))).json()
    assert events == {"items": [], "total": 0}


async def test_creating_an_organization_is_recorded_in_it(client, accounts) -> None:
    user = await accounts.make_user("ada@example.com")
    headers = {"Authorization": f"Bearer {(await accounts.login(user)).access_token}"}
    await client.post("/api/v1/orgs", json={"slug": "orbit", "name": "Orbit"}, headers=headers)
    events = (await client.get("/api/v1/orgs/orbit/audit-events", headers=headers)).json()
    assert {e["action"] for e in events["items"]} == {"org.create"}
    assert {e["target"] for e in events["items"]} == {"org:orbit", f"member:{user.id}"}


async def test_accepting_an_invitation_is_recorded_as_the_newcomer(client, auth_headers) -> None:
    admin = await auth_headers("admin")
    token = (
        await client.post(
            "/api/v1/orgs/acme/members",
            json={"email": "new@example.com", "role": "viewer"},
            headers=admin,
        )
    ).json()["token"]
    await client.post(
        f"/api/v1/invitations/{token}/accept", json={"name": "New", "password": "a long password"}
    )
    events = (await client.get(EVENTS + "?action=invitation.accept", headers=admin)).json()
    # The new user's account and membership, both by the newcomer.
    assert [e["actor"]["label"] for e in events["items"]] == ["new@example.com"] * 2
    assert sorted(e["target"].split(":")[0] for e in events["items"]) == ["member", "user"]
    created = next(e for e in events["items"] if e["target"].startswith("user:"))
    assert created["diff"]["after"] == {"email": "new@example.com", "name": "New"}


async def test_audit_events_filter_by_actor_action_and_time_and_page(
    client, auth_headers, accounts
) -> None:
    admin = await auth_headers("admin")
    owner = await auth_headers("owner")
    for email in ("a@example.com", "b@example.com"):
        await client.post(
            "/api/v1/orgs/acme/members", json={"email": email, "role": "viewer"}, headers=admin
        )
    await client.post(
        "/api/v1/orgs/acme/api-keys", json={"name": "k", "role": "viewer"}, headers=owner
    )

    everything = (await client.get(EVENTS, headers=admin)).json()
    assert everything["total"] == 3
    assert [e["action"] for e in everything["items"]] == [
        "api_key.create",
        "member.invite",
        "member.invite",
    ]
    by_actor = (await client.get(EVENTS + "?actor=owner@acme.test", headers=admin)).json()
    assert by_actor["total"] == 1
    user = await accounts.make_user("admin@acme.test")
    assert (await client.get(EVENTS + f"?actor={user.id}", headers=admin)).json()["total"] == 2
    assert (await client.get(EVENTS + "?action=member.invite", headers=admin)).json()["total"] == 2
    assert (await client.get(EVENTS + "?action=member.*", headers=admin)).json()["total"] == 2
    newest = everything["items"][0]["at"]
    since = (await client.get(EVENTS, params={"since": newest}, headers=admin)).json()
    until = (await client.get(EVENTS, params={"until": newest}, headers=admin)).json()
    assert since["total"] + until["total"] == 3 and since["total"] >= 1
    page = (await client.get(EVENTS + "?offset=1&limit=1", headers=admin)).json()
    assert page["total"] == 3 and page["items"] == [everything["items"][1]]
    assert (await client.get(EVENTS + "?limit=1001", headers=admin)).status_code == 400


def test_no_route_changes_or_deletes_an_audit_entry(app: Litestar) -> None:
    audit_routes = [r for r in app.routes if "audit" in r.path]
    assert audit_routes
    assert {m for r in audit_routes for m in r.methods} <= {"GET", "HEAD", "OPTIONS"}


async def test_the_database_refuses_to_change_or_delete_an_audit_entry(
    client, auth_headers, accounts
) -> None:
    await client.post(
        "/api/v1/orgs/acme/api-keys",
        json={"name": "k", "role": "viewer"},
        headers=await auth_headers("admin"),
    )
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with accounts.db.session() as session:
                await session.execute(text(statement))


def test_redaction_covers_every_kind_of_secret_at_any_depth() -> None:
    config = {
        "name": "prod",
        "auth": {"type": "user_password", "user": "app", "password": "p"},
        "token": "t",
        "nkey_seed": "SU...",
        "creds": "-----BEGIN",
        "tls": {"key_pem": "k", "ca_pem": "ca"},
        "channels": [{"webhook_url": "https://hooks", "slack_url": "https://slack"}],
        "smtp": {"smtp_password": "s", "host": "mail"},
        "private_key": "pk",
        "api_key": "jdk_x",
        "secret": "s",
    }
    redacted = redact(config)
    flat = repr(redacted)
    for secret in (
        "'p'",
        "'t'",
        "SU...",
        "BEGIN",
        "'k'",
        "hooks",
        "slack.",
        "'s'",
        "'pk'",
        "jdk_x",
    ):
        assert secret not in flat
    assert redacted["auth"]["user"] == "app" and redacted["tls"]["ca_pem"] == "ca"
    assert redacted["smtp"]["host"] == "mail"


def test_a_diff_holds_only_what_changed() -> None:
    assert diff({"a": 1, "b": 2}, {"a": 1, "b": 3}) == {"before": {"b": 2}, "after": {"b": 3}}
    assert diff(None, {"a": 1}) == {"before": None, "after": {"a": 1}}
    assert diff({"password": "x"}, {"password": "y"}) == {
        "before": {"password": REDACTED},
        "after": {"password": REDACTED},
    }


async def test_a_change_that_cannot_be_recorded_is_not_reported_as_done(
    probed_client, auth_headers
) -> None:
    response = await probed_client.post(
        "/api/v1/orgs/acme/probe-unrecordable", headers=await auth_headers("editor")
    )
    assert response.status_code == 503
    assert response.json()["code"] == "audit_unavailable"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/orgs/acme/api-keys", {"name": "k", "role": "viewer"}),
        ("/api/v1/orgs/acme/members", {"email": "new@example.com", "role": "viewer"}),
        ("/api/v1/orgs/acme/clusters", {"name": "c1", "servers": ["nats://127.0.0.1:4222"]}),
    ],
)
async def test_a_change_whose_audit_row_cannot_be_written_is_not_made(
    client, auth_headers, accounts, path, body
) -> None:
    """The audit row commits in the change's own transaction: when the row is refused, the
    change is rolled back with it (not made, then reported unrecorded)."""
    admin = await auth_headers("admin")
    async with accounts.db.session() as session:
        await session.execute(
            text(
                "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'audit refused by the test'; END $$"
            )
        )
        await session.execute(
            text(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
                "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
            )
        )
    refused = await client.post(path, json=body, headers=admin)
    assert refused.status_code >= 500, refused.text
    async with accounts.db.session() as session:
        counts = [
            await session.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("api_keys", "invitations", "clusters")
        ]
        await session.execute(text("DROP TRIGGER refuse_audit ON audit_events"))
    assert counts == [0, 0, 0]
