"""Organization settings without a browser: members (an invitation link shown once and
accepted, role changes, the last-owner rule), API keys (shown once, revoked), the audit log
(filters in the URL, each change readable field by field), the password on /account, and
who may see and post what."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from shared.audit.models import AuditEvent
from shared.audit.trail import list_events
from tests.fixtures.accounts import PASSWORD, csrf_token, web_login

HTML = {"Accept": "text/html"}
SETTINGS = "/orgs/acme/settings"
LINK = re.compile(r'value="(http://testserver\.local/invitations/(jdi_[^"]+))"')
KEY = re.compile(r'id="new-key" class="secret-value" readonly value="(jdk_[^"]+)"')


async def _sign_in(client: Any, make_user: Any, role: str, email: str | None = None) -> str:
    email = email or f"{role}@acme.test"
    await make_user(email, org_slug="acme", role=role)
    client.cookies.clear()  # a fresh browser
    assert (await web_login(client, email)).status_code == 303
    return csrf_token((await client.get("/account", headers=HTML)).text)


async def _events(accounts: Any, **filters: Any) -> list[Any]:
    org = await accounts.make_org("acme")
    return (await list_events(accounts.db, org.id, **filters)).items


async def test_an_invitation_link_is_shown_once_and_opens_the_organization(
    client, app, make_user, accounts
) -> None:
    token = await _sign_in(client, make_user, "admin")
    invited = await client.post(
        f"{SETTINGS}/members",
        data={"csrf_token": token, "email": "new@acme.test", "role": "editor"},
        headers=HTML,
    )
    assert invited.status_code == 200, invited.text
    link = LINK.search(invited.text)
    assert link is not None
    again = await client.get(f"{SETTINGS}/members", headers=HTML)
    assert link.group(2) not in again.text  # shown once
    (event,) = await _events(accounts, action="member.invite")
    assert event.diff["after"] == {"email": "new@acme.test", "role": "editor"}

    async with AsyncTestClient(app, base_url="http://testserver.local") as invitee:
        invitee.follow_redirects = False
        form = await invitee.get(link.group(1).removeprefix("http://testserver.local"))
        assert form.status_code == 200 and "Accept the invitation" in form.text
        path = f"/invitations/{link.group(2)}"
        nameless = await invitee.post(path, data={"password": PASSWORD}, headers=HTML)
        assert nameless.status_code == 422 and 'id="name-error"' in nameless.text
        accepted = await invitee.post(
            path, data={"name": "New", "password": PASSWORD}, headers=HTML
        )
        assert accepted.status_code == 303
        assert accepted.headers["location"] == "/login?next=/orgs/acme"
        assert (await web_login(invitee, "new@acme.test")).status_code == 303
        assert (await invitee.get("/orgs/acme", headers=HTML)).status_code == 200
    members = await client.get(f"{SETTINGS}/members", headers=HTML)
    assert "new@acme.test" in members.text


async def test_pending_invitations_are_listed_and_a_revoked_link_stops_working(
    client, app, make_user, accounts
) -> None:
    token = await _sign_in(client, make_user, "admin")
    empty = await client.get(f"{SETTINGS}/members", headers=HTML)
    assert "0 pending invitations" in empty.text
    invited = await client.post(
        f"{SETTINGS}/members",
        data={"csrf_token": token, "email": "later@acme.test", "role": "viewer"},
        headers=HTML,
    )
    link = LINK.search(invited.text)
    assert link is not None
    members = await client.get(f"{SETTINGS}/members", headers=HTML)
    assert "1 pending invitation<" in members.text
    row = re.search(r'<th scope="row">later@acme\.test</th>(.*?)</tr>', members.text, re.S)
    assert row is not None
    assert "<td>viewer</td>" in row.group(1) and "<td>admin@acme.test</td>" in row.group(1)
    assert re.search(r'<time datetime="[^"]+"[^>]*>in \d', row.group(1))  # when it expires
    assert link.group(2) not in members.text  # the link is never shown again
    revoke = re.search(r'action="(/orgs/acme/settings/members/invitations/[^"]+)"', row.group(1))
    assert revoke is not None

    viewer_token = await _sign_in(client, make_user, "viewer")
    seen = await client.get(f"{SETTINGS}/members", headers=HTML)
    assert "pending invitation" not in seen.text and "later@acme.test" not in seen.text
    forged = await client.post(revoke.group(1), data={"csrf_token": viewer_token}, headers=HTML)
    assert forged.status_code == 403

    token = await _sign_in(client, make_user, "admin")
    revoked = await client.post(revoke.group(1), data={"csrf_token": token}, headers=HTML)
    assert revoked.status_code == 303
    assert "0 pending invitations" in (await client.get(f"{SETTINGS}/members", headers=HTML)).text
    (event,) = await _events(accounts, action="invitation.revoke")
    assert event.diff["before"] == {"email": "later@acme.test", "role": "viewer"}
    again = await client.post(revoke.group(1), data={"csrf_token": token}, headers=HTML)
    assert again.status_code == 422 and "No pending invitation" in again.text
    async with AsyncTestClient(app, base_url="http://testserver.local") as invitee:
        gone = await invitee.post(
            f"/invitations/{link.group(2)}", data={"name": "Late", "password": PASSWORD}
        )
        assert gone.status_code == 422 and "not valid, used or expired" in gone.text


async def test_roles_change_and_the_last_owner_rule_is_a_clear_message(
    client, make_user, accounts
) -> None:
    token = await _sign_in(client, make_user, "owner")
    owner = await make_user("owner@acme.test")
    refused = await client.post(
        f"{SETTINGS}/members/{owner.id}/role",
        data={"csrf_token": token, "role": "admin"},
        headers=HTML,
    )
    assert refused.status_code == 422
    assert f'id="error-{owner.id}"' in refused.text
    assert "The last owner cannot be demoted" in refused.text
    removed = await client.post(
        f"{SETTINGS}/members/{owner.id}/remove", data={"csrf_token": token}, headers=HTML
    )
    assert removed.status_code == 422 and "The last owner cannot be removed" in removed.text

    viewer = await make_user("viewer@acme.test", org_slug="acme", role="viewer")
    changed = await client.post(
        f"{SETTINGS}/members/{viewer.id}/role",
        data={"csrf_token": token, "role": "editor"},
        headers=HTML,
    )
    assert changed.status_code == 303
    (event,) = await _events(accounts, action="member.update")
    assert event.diff == {"before": {"role": "viewer"}, "after": {"role": "editor"}}
    gone = await client.post(
        f"{SETTINGS}/members/{viewer.id}/remove", data={"csrf_token": token}, headers=HTML
    )
    assert gone.status_code == 303
    assert "viewer@acme.test" not in (await client.get(f"{SETTINGS}/members", headers=HTML)).text


async def test_an_api_key_is_shown_once_with_a_copy_button_then_revoked(
    client, make_user, accounts
) -> None:
    token = await _sign_in(client, make_user, "admin")
    refused = await client.post(
        f"{SETTINGS}/api-keys",
        data={"csrf_token": token, "name": "ci", "role": "owner", "expires_at": ""},
        headers=HTML,
    )
    assert refused.status_code == 422 and 'id="f-role-error"' in refused.text
    past = await client.post(
        f"{SETTINGS}/api-keys",
        data={
            "csrf_token": token,
            "name": "ci",
            "role": "editor",
            "expires_at": "2001-01-01T00:00",
        },
        headers=HTML,
    )
    assert past.status_code == 422 and 'id="f-expires_at-error"' in past.text
    assert 'value="ci"' in past.text

    created = await client.post(
        f"{SETTINGS}/api-keys",
        data={
            "csrf_token": token,
            "name": "ci",
            "role": "editor",
            "expires_at": "2099-01-01T00:00",
        },
        headers=HTML,
    )
    assert created.status_code == 200
    key = KEY.search(created.text)
    assert key is not None and 'data-copy="new-key"' in created.text
    listing = await client.get(f"{SETTINGS}/api-keys", headers=HTML)
    assert key.group(1) not in listing.text and "2099-01-01 00:00 UTC" in listing.text
    assert (
        await client.get("/api/v1/orgs/acme", headers={"Authorization": f"Bearer {key.group(1)}"})
    ).status_code == 200

    (event,) = await _events(accounts, action="api_key.create")
    key_id = event.target.removeprefix("api_key:")
    revoked = await client.post(
        f"{SETTINGS}/api-keys/{key_id}/revoke", data={"csrf_token": token}, headers=HTML
    )
    assert revoked.status_code == 303
    assert (
        await client.get("/api/v1/orgs/acme", headers={"Authorization": f"Bearer {key.group(1)}"})
    ).status_code == 401
    assert len(await _events(accounts, action="api_key.revoke")) == 1


async def test_the_audit_log_filters_in_the_url_and_shows_each_change_field_by_field(
    client, make_user, accounts
) -> None:
    token = await _sign_in(client, make_user, "admin")
    viewer = await make_user("viewer@acme.test", org_slug="acme", role="viewer")
    await client.post(
        f"{SETTINGS}/members/{viewer.id}/role",
        data={"csrf_token": token, "role": "editor"},
        headers=HTML,
    )
    await client.post(
        f"{SETTINGS}/api-keys",
        data={"csrf_token": token, "name": "ci", "role": "viewer", "expires_at": ""},
        headers=HTML,
    )
    page = await client.get(f"{SETTINGS}/audit?action=member.*", headers=HTML)
    assert page.status_code == 200
    assert "member.update" in page.text and "api_key.create" not in page.text
    assert "<del>viewer</del>" in page.text and "<ins>editor</ins>" in page.text
    assert 'value="member.*"' in page.text  # the filter is kept in the form

    fragment = await client.get(
        f"{SETTINGS}/audit?target=api_key:*&actor=admin@acme.test",
        headers={**HTML, "HX-Request": "true", "HX-Target": "audit_table"},
    )
    assert fragment.text.lstrip().startswith('<div id="audit_table"')
    assert "api_key.create" in fragment.text and "member.update" not in fragment.text
    nobody = await client.get(f"{SETTINGS}/audit?actor=someone@else.test", headers=HTML)
    assert "No event matches." in nobody.text
    bad_time = await client.get(f"{SETTINGS}/audit?since=yesterday", headers=HTML)
    assert bad_time.status_code == 422 and 'id="f-since-error"' in bad_time.text


async def test_the_password_changes_on_the_account_page_and_other_logins_end(
    client, make_user, accounts
) -> None:
    token = await _sign_in(client, make_user, "viewer")
    user = await make_user("viewer@acme.test")
    other = await accounts.login(user)  # another sign-in (an API client)
    wrong = await client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": "not it",
            "new_password": "a new password 123",
            "new_password_again": "a new password 123",
        },
        headers=HTML,
    )
    assert wrong.status_code == 422 and 'id="f-current_password-error"' in wrong.text
    short = await client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "short",
            "new_password_again": "short",
        },
        headers=HTML,
    )
    assert short.status_code == 422 and 'id="f-new_password-error"' in short.text
    changed = await client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "a new password 123",
            "new_password_again": "a new password 123",
        },
        headers=HTML,
    )
    assert changed.status_code == 200 and "Your password is changed. 1 other" in changed.text
    async with accounts.db.session() as session:  # a user's change: on no organization's log
        (event,) = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user.password_change")
        )
    assert event.target == f"user:{user.id}" and event.actor_label == "viewer@acme.test"
    assert event.diff["after"] == {"password": "[redacted]", "other_logins_ended": 1}
    assert (await client.get("/orgs/acme", headers=HTML)).status_code == 200  # this one stays
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": other.refresh_token}
    )
    assert refreshed.status_code == 401
    client.cookies.clear()
    assert (await web_login(client, "viewer@acme.test", "a new password 123")).status_code == 303


async def test_the_api_changes_the_password_as_api_md_says(client, make_user, accounts) -> None:
    user = await make_user("someone@acme.test", org_slug="acme", role="viewer")
    pair = await accounts.login(user)
    headers = {"Authorization": f"Bearer {pair.access_token}"}
    body = {"current_password": PASSWORD, "new_password": "another password 456"}
    assert (
        await client.post("/api/v1/auth/password", json=body, headers=headers)
    ).status_code == 204


async def test_a_viewer_sees_members_without_controls_and_no_admin_settings(
    client, make_user, accounts
) -> None:
    token = await _sign_in(client, make_user, "viewer")
    members = await client.get(f"{SETTINGS}/members", headers=HTML)
    assert members.status_code == 200
    assert "Invite someone" not in members.text and "/remove" not in members.text
    assert f'href="{SETTINGS}/members"' in members.text
    assert f'href="{SETTINGS}/api-keys"' not in members.text
    assert f'href="{SETTINGS}/audit"' not in members.text
    assert (await client.get(f"{SETTINGS}/api-keys", headers=HTML)).status_code == 403
    assert (await client.get(f"{SETTINGS}/audit", headers=HTML)).status_code == 403
    forged = await client.post(
        f"{SETTINGS}/members",
        data={"csrf_token": token, "email": "x@acme.test", "role": "viewer"},
        headers=HTML,
    )
    assert forged.status_code == 403
    assert await _events(accounts, action="member.invite") == []

    await _sign_in(client, make_user, "admin")
    no_csrf = await client.post(
        f"{SETTINGS}/api-keys", data={"name": "ci", "role": "viewer"}, headers=HTML
    )
    assert no_csrf.status_code == 403
    assert await _events(accounts, action="api_key.create") == []
    # the admin's navigation links every settings page
    page = await client.get(f"{SETTINGS}/members", headers=HTML)
    assert f'href="{SETTINGS}/api-keys"' in page.text and f'href="{SETTINGS}/audit"' in page.text
