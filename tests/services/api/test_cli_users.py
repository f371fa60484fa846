"""`jetdeck users create --email E --password-stdin --org SLUG --role ROLE` and `deactivate`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

PASSWORD = "from the command line 1"


def _jetdeck(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JETDECK_DATABASE_URL": database_url, "JETDECK_ENV": "development"}
    env.pop("JETDECK_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_users_create_makes_the_organization_and_an_owner_who_can_sign_in(
    client, database_url: str
) -> None:
    created = await asyncio.to_thread(
        _jetdeck,
        database_url,
        "users",
        "create",
        "--email",
        "root@example.com",
        "--password-stdin",
        "--org",
        "first",
        "--role",
        "owner",
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    assert "organization first created" in created.stdout
    assert PASSWORD not in created.stdout + created.stderr
    login = await client.post(
        "/api/v1/auth/login", json={"email": "root@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert me.json()["orgs"] == [{"slug": "first", "name": "first", "role": "owner"}]

    again = await asyncio.to_thread(
        _jetdeck,
        database_url,
        "users",
        "create",
        "--email",
        "ROOT@example.com",
        "--password-stdin",
        "--org",
        "first",
        "--role",
        "viewer",
        stdin=PASSWORD,
    )
    assert again.returncode == 1 and "already exists" in again.stderr

    deactivated = await asyncio.to_thread(
        _jetdeck, database_url, "users", "deactivate", "--email", "root@example.com"
    )
    assert deactivated.returncode == 0, deactivated.stderr
    refused = await client.post(
        "/api/v1/auth/login", json={"email": "root@example.com", "password": PASSWORD}
    )
    assert refused.status_code == 401


async def test_users_create_refuses_a_short_password(database_url: str) -> None:
    result = await asyncio.to_thread(
        _jetdeck,
        database_url,
        "users",
        "create",
        "--email",
        "a@example.com",
        "--password-stdin",
        "--org",
        "first",
        stdin="short\n",
    )
    assert result.returncode == 1
    assert "at least 12 characters" in result.stderr


async def test_jetdeck_up_offers_the_first_owner_command_until_someone_exists(
    database_url: str, make_user
) -> None:
    from services.cli_users import first_owner_hint

    hint = await first_owner_hint(database_url, "/srv/my data")
    assert hint is not None
    assert "jetdeck users create --data-dir '/srv/my data' --email" in hint
    assert "--password-stdin --org my-team --role owner" in hint
    await make_user("first@example.com")
    assert await first_owner_hint(database_url, "/srv/my data") is None


async def test_users_create_refuses_a_new_organization_whose_first_member_is_not_its_owner(
    client, database_url: str
) -> None:
    refused = await asyncio.to_thread(
        _jetdeck,
        database_url,
        "users",
        "create",
        "--email",
        "viewer@example.com",
        "--password-stdin",
        "--org",
        "new",
        "--role",
        "viewer",
        stdin=PASSWORD + "\n",
    )
    assert refused.returncode == 2
    assert "--role owner" in refused.stderr
    login = await client.post(
        "/api/v1/auth/login", json={"email": "viewer@example.com", "password": PASSWORD}
    )
    assert login.status_code == 401  # nothing was created: no user, no organization
    owner = await asyncio.to_thread(
        _jetdeck,
        database_url,
        "users",
        "create",
        "--email",
        "owner@example.com",
        "--password-stdin",
        "--org",
        "new",
        stdin=PASSWORD + "\n",
    )
    assert owner.returncode == 0, owner.stderr
    assert "organization new created" in owner.stdout


async def test_cli_changes_are_on_the_audit_trail_of_every_organization_they_touch(
    client, database_url: str
) -> None:
    def create(email: str, org: str, role: str) -> int:
        return _jetdeck(
            database_url,
            *("users", "create", "--email", email, "--password-stdin"),
            *("--org", org, "--role", role),
            stdin=PASSWORD + "\n",
        ).returncode

    assert await asyncio.to_thread(create, "root@example.com", "first", "owner") == 0
    assert await asyncio.to_thread(create, "root2@example.com", "second", "owner") == 0
    assert await asyncio.to_thread(create, "bob@example.com", "first", "viewer") == 0
    # bob exists: refused, and a refused command leaves nothing on any trail.
    assert await asyncio.to_thread(create, "bob@example.com", "second", "viewer") == 1
    deactivated = await asyncio.to_thread(
        _jetdeck, database_url, "users", "deactivate", "--email", "bob@example.com"
    )
    assert deactivated.returncode == 0, deactivated.stderr

    async def trail(email: str, org: str) -> list[dict]:
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        events = await client.get(
            f"/api/v1/orgs/{org}/audit-events",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        )
        assert events.status_code == 200, events.text
        return events.json()["items"]

    first = await trail("root@example.com", "first")
    second = await trail("root2@example.com", "second")

    assert {e["actor"]["type"] for e in first} == {"system"}
    assert all(e["actor"]["label"].startswith("cli:") for e in first)
    actions = sorted((e["action"], e["target"].split(":")[0]) for e in first)
    assert actions == [
        ("user.create", "member"),  # root, the new organization's owner
        ("user.create", "member"),  # bob, a viewer of the existing organization
        ("user.create", "org"),
        ("user.create", "user"),
        ("user.create", "user"),
        ("user.deactivate", "user"),
    ]
    bob_created = next(
        e for e in first if e["action"] == "user.create" and "bob@" in str(e["diff"])
    )
    assert bob_created["diff"]["after"]["email"] == "bob@example.com"
    deactivation = next(e for e in first if e["action"] == "user.deactivate")
    assert deactivation["diff"]["after"] == {"active": False}
    # bob was no member of `second` (his creation there was refused): not on its trail.
    assert sorted(e["action"] for e in second) == ["user.create"] * 3
    assert PASSWORD not in str(first) + str(second)
