"""Organizations, members and invitations (API.md, Organizations, members)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from shared.accounts.models import Invitation
from shared.accounts.users import deactivate_user
from shared.audit.trail import list_events
from shared.db.base import utcnow
from tests.fixtures.accounts import PASSWORD, Accounts


async def _token_for(client: Any, accounts: Accounts, email: str) -> dict[str, str]:
    user = await accounts.make_user(email)
    pair = await accounts.login(user)
    return {"Authorization": f"Bearer {pair.access_token}"}


async def test_creating_an_organization_makes_the_caller_its_owner(client, accounts) -> None:
    headers = await _token_for(client, accounts, "ada@example.com")
    created = await client.post(
        "/api/v1/orgs", json={"slug": "orbit", "name": "Orbit"}, headers=headers
    )
    assert created.status_code == 201
    assert created.json()["role"] == "owner"
    got = await client.get("/api/v1/orgs/orbit", headers=headers)
    assert got.status_code == 200
    assert got.json()["slug"] == "orbit" and got.json()["name"] == "Orbit"


async def test_an_organization_slug_is_taken_once(client, accounts, org) -> None:
    headers = await _token_for(client, accounts, "ada@example.com")
    taken = await client.post(
        "/api/v1/orgs", json={"slug": "acme", "name": "Again"}, headers=headers
    )
    assert taken.status_code == 409
    bad = await client.post(
        "/api/v1/orgs", json={"slug": "Not A Slug", "name": "x"}, headers=headers
    )
    assert bad.status_code == 400


async def test_another_organization_answers_404_not_403(client, auth_headers, accounts) -> None:
    await accounts.make_org("globex")
    response = await client.get("/api/v1/orgs/globex", headers=await auth_headers("owner"))
    assert response.status_code == 404
    assert response.json()["code"] == "org_not_found"
    missing = await client.get("/api/v1/orgs/no-such-org", headers=await auth_headers("owner"))
    assert missing.json() == response.json() | {"detail": missing.json()["detail"]}


async def _invite(client: Any, headers: dict[str, str], email: str, role: str = "editor") -> Any:
    return await client.post(
        "/api/v1/orgs/acme/members", json={"email": email, "role": role}, headers=headers
    )


async def test_an_invited_newcomer_accepts_with_a_name_and_password_and_can_sign_in(
    client, auth_headers
) -> None:
    invited = await _invite(client, await auth_headers("admin"), "new@example.com")
    assert invited.status_code == 201
    token = invited.json()["token"]
    accepted = await client.post(
        f"/api/v1/invitations/{token}/accept", json={"name": "Newcomer", "password": PASSWORD}
    )
    assert accepted.status_code == 200
    assert accepted.json()["org"] == {"slug": "acme", "name": "Acme", "role": "editor"}
    assert accepted.json()["created_user"] is True
    login = await client.post(
        "/api/v1/auth/login", json={"email": "new@example.com", "password": PASSWORD}
    )
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert me.json()["name"] == "Newcomer"
    assert me.json()["orgs"] == [{"slug": "acme", "name": "Acme", "role": "editor"}]


async def test_an_invitation_works_once(client, auth_headers) -> None:
    token = (await _invite(client, await auth_headers("admin"), "new@example.com")).json()["token"]
    body = {"name": "Newcomer", "password": PASSWORD}
    assert (await client.post(f"/api/v1/invitations/{token}/accept", json=body)).status_code == 200
    again = await client.post(f"/api/v1/invitations/{token}/accept", json=body)
    assert again.status_code == 404
    assert again.json()["code"] == "invitation_not_found"


async def test_an_expired_invitation_is_refused(client, auth_headers, accounts) -> None:
    token = (await _invite(client, await auth_headers("admin"), "new@example.com")).json()["token"]
    async with accounts.db.session() as session:
        await session.execute(update(Invitation).values(expires_at=utcnow()))
    response = await client.post(
        f"/api/v1/invitations/{token}/accept", json={"name": "Late", "password": PASSWORD}
    )
    assert response.status_code == 404


async def test_an_existing_user_accepts_with_their_own_password(
    client, auth_headers, accounts
) -> None:
    await accounts.make_user("known@example.com", org_slug="globex", role="owner")
    token = (
        await _invite(client, await auth_headers("admin"), "KNOWN@example.com", "viewer")
    ).json()["token"]
    wrong = await client.post(
        f"/api/v1/invitations/{token}/accept", json={"password": "not my password!"}
    )
    assert wrong.status_code == 401
    right = await client.post(f"/api/v1/invitations/{token}/accept", json={"password": PASSWORD})
    assert right.status_code == 200
    assert right.json()["created_user"] is False


async def test_inviting_a_new_user_needs_a_password_of_twelve_characters(
    client, auth_headers
) -> None:
    token = (await _invite(client, await auth_headers("admin"), "new@example.com")).json()["token"]
    short = await client.post(
        f"/api/v1/invitations/{token}/accept", json={"name": "N", "password": "short"}
    )
    assert short.status_code == 400
    assert short.json()["code"] == "weak_password"


async def test_members_are_listed_with_their_roles(client, auth_headers) -> None:
    await auth_headers("admin")
    listed = await client.get("/api/v1/orgs/acme/members", headers=await auth_headers("viewer"))
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 3
    assert {(m["email"], m["role"]) for m in body["items"]} == {
        ("admin@acme.test", "admin"),
        ("owner@acme.test", "owner"),
        ("viewer@acme.test", "viewer"),
    }
    page = await client.get(
        "/api/v1/orgs/acme/members?offset=1&limit=1", headers=await auth_headers("viewer")
    )
    assert page.json()["total"] == 3 and len(page.json()["items"]) == 1
    too_many = await client.get(
        "/api/v1/orgs/acme/members?limit=1001", headers=await auth_headers("viewer")
    )
    assert too_many.status_code == 400


async def test_an_admin_changes_a_role_and_removes_a_member(client, auth_headers, accounts) -> None:
    editor = await accounts.make_user("ed@example.com", org_slug="acme", role="editor")
    admin = await auth_headers("admin")
    changed = await client.patch(
        f"/api/v1/orgs/acme/members/{editor.id}", json={"role": "viewer"}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    removed = await client.delete(f"/api/v1/orgs/acme/members/{editor.id}", headers=admin)
    assert removed.status_code == 204
    gone = await client.delete(f"/api/v1/orgs/acme/members/{editor.id}", headers=admin)
    assert gone.status_code == 404


async def test_nobody_grants_a_role_above_their_own_or_touches_someone_above_them(
    client, auth_headers, accounts
) -> None:
    admin = await auth_headers("admin")
    owner = await accounts.make_user("owner@acme.test", org_slug="acme", role="owner")
    promote = await _invite(client, admin, "boss@example.com", "owner")
    assert promote.status_code == 403
    demote_owner = await client.patch(
        f"/api/v1/orgs/acme/members/{owner.id}", json={"role": "viewer"}, headers=admin
    )
    assert demote_owner.status_code == 403


async def test_the_last_owner_can_be_neither_removed_nor_demoted(
    client, auth_headers, accounts
) -> None:
    headers = await auth_headers("owner")  # owner@acme.test, the organization's only owner
    sole = await accounts.make_user("owner@acme.test")
    demote = await client.patch(
        f"/api/v1/orgs/acme/members/{sole.id}", json={"role": "admin"}, headers=headers
    )
    assert demote.status_code == 409 and demote.json()["code"] == "last_owner"
    remove = await client.delete(f"/api/v1/orgs/acme/members/{sole.id}", headers=headers)
    assert remove.status_code == 409 and remove.json()["code"] == "last_owner"
    # With a second owner, the first may step down.
    await accounts.make_user("second@example.com", org_slug="acme", role="owner")
    stepped = await client.patch(
        f"/api/v1/orgs/acme/members/{sole.id}", json={"role": "admin"}, headers=headers
    )
    assert stepped.status_code == 200


async def test_inviting_an_existing_member_is_a_conflict(client, auth_headers) -> None:
    admin = await auth_headers("admin")
    await auth_headers("viewer")
    response = await _invite(client, admin, "viewer@acme.test")
    assert response.status_code == 409


async def test_only_the_owner_renames_the_organization(client, auth_headers) -> None:
    renamed = await client.patch(
        "/api/v1/orgs/acme", json={"name": "Acme Corp"}, headers=await auth_headers("owner")
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Acme Corp"
    refused = await client.patch(
        "/api/v1/orgs/acme", json={"name": "Mine"}, headers=await auth_headers("admin")
    )
    assert refused.status_code == 403


async def test_accepting_as_an_existing_user_is_under_the_sign_in_attempt_limit(
    client, auth_headers, accounts
) -> None:
    await accounts.make_user("known@example.com")
    admin = await auth_headers("admin")
    token = (await _invite(client, admin, "known@example.com", "viewer")).json()["token"]
    url = f"/api/v1/invitations/{token}/accept"
    for i in range(10):
        assert (await client.post(url, json={"password": f"guess number {i}"})).status_code == 401
    limited = await client.post(url, json={"password": PASSWORD})
    assert limited.status_code == 429


async def test_a_deactivated_user_accepting_an_invitation_is_told_the_account_is_deactivated(
    client, auth_headers, accounts
) -> None:
    user = await accounts.make_user("gone@example.com")
    token = (await _invite(client, await auth_headers("admin"), "gone@example.com")).json()["token"]
    await deactivate_user(accounts.backends, user.id)
    url = f"/api/v1/invitations/{token}/accept"
    wrong = await client.post(url, json={"password": "not my password!"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    refused = await client.post(url, json={"password": PASSWORD})
    assert refused.status_code == 401
    assert refused.json()["code"] == "user_inactive"
    assert "deactivated" in refused.json()["detail"]
    # Sign-in still answers a deactivated account like a wrong password.
    login = await client.post(
        "/api/v1/auth/login", json={"email": "gone@example.com", "password": PASSWORD}
    )
    assert login.status_code == 401 and login.json()["code"] == "invalid_credentials"


async def test_accepting_an_invitation_when_already_a_member_is_a_conflict(
    client, auth_headers, accounts
) -> None:
    await accounts.make_user("known@example.com")
    admin = await auth_headers("admin")
    as_viewer = (await _invite(client, admin, "known@example.com", "viewer")).json()["token"]
    as_editor = (await _invite(client, admin, "known@example.com", "editor")).json()["token"]
    body = {"password": PASSWORD}
    joined = await client.post(f"/api/v1/invitations/{as_editor}/accept", json=body)
    assert joined.status_code == 200 and joined.json()["org"]["role"] == "editor"
    again = await client.post(f"/api/v1/invitations/{as_viewer}/accept", json=body)
    assert again.status_code == 409
    assert again.json()["code"] == "already_member"
    members = await client.get("/api/v1/orgs/acme/members", headers=admin)
    roles = {m["email"]: m["role"] for m in members.json()["items"]}
    assert roles["known@example.com"] == "editor"


async def test_pending_invitations_are_listed_for_admins_and_revoked_while_pending(
    client, auth_headers, accounts
) -> None:
    admin, owner = await auth_headers("admin"), await auth_headers("owner")
    base = "/api/v1/orgs/acme/invitations"
    token = (await _invite(client, admin, "new@example.com")).json()["token"]
    boss = await _invite(client, owner, "boss@example.com", "owner")
    used = (await _invite(client, admin, "used@example.com")).json()["token"]
    body = {"name": "Used", "password": PASSWORD}
    assert (await client.post(f"/api/v1/invitations/{used}/accept", json=body)).status_code == 200

    listed = await client.get(base, headers=admin)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert listed.json()["total"] == 2  # the accepted one is not pending
    assert [(i["email"], i["role"], i["invited_by"]["email"]) for i in items] == [
        ("boss@example.com", "owner", "owner@acme.test"),  # newest first
        ("new@example.com", "editor", "admin@acme.test"),
    ]
    assert token not in listed.text and "token" not in items[0]
    assert (await client.get(base, headers=await auth_headers("viewer"))).status_code == 403

    above = await client.delete(f"{base}/{boss.json()['id']}", headers=admin)
    assert above.status_code == 403 and above.json()["code"] == "role_above_yours"
    new_id = items[1]["id"]
    assert (await client.delete(f"{base}/{new_id}", headers=admin)).status_code == 204
    accept = await client.post(
        f"/api/v1/invitations/{token}/accept", json={"name": "N", "password": PASSWORD}
    )
    assert accept.status_code == 404 and accept.json()["code"] == "invitation_not_found"
    again = await client.delete(f"{base}/{new_id}", headers=admin)
    assert again.status_code == 404 and again.json()["code"] == "invitation_not_found"
    assert [i["email"] for i in (await client.get(base, headers=admin)).json()["items"]] == [
        "boss@example.com"
    ]
    org = await accounts.make_org("acme")
    (event,) = (await list_events(accounts.db, org.id, action="invitation.revoke")).items
    assert event.target == f"invitation:{new_id}" and event.actor.label == "admin@acme.test"
    assert event.diff["before"] == {"email": "new@example.com", "role": "editor"}
    assert event.diff["after"] is None
