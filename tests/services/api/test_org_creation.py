"""JETDECK_ORG_CREATION=operators reserves creating organizations to `jetdeck orgs create`."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import text

from services.app import create_app
from tests.services.api.test_cli_users import _jetdeck


async def test_with_org_creation_for_operators_a_user_cannot_create_an_organization(
    settings: Any, auth_headers: Any
) -> None:
    reserved = settings.model_copy(
        update={"app": settings.app.model_copy(update={"org_creation": "operators"})}
    )
    async with AsyncTestClient(create_app(reserved), base_url="http://testserver.local") as client:
        response = await client.post(
            "/api/v1/orgs", json={"slug": "mine", "name": "Mine"}, headers=await auth_headers()
        )
    assert response.status_code == 403
    assert response.json()["code"] == "org_creation_reserved"


async def test_an_operator_creates_an_organization_for_an_existing_user_on_the_audit_trail(
    client: Any, database_url: str, make_user: Any, accounts: Any
) -> None:
    await make_user("ada@example.com")
    created = await asyncio.to_thread(
        _jetdeck,
        database_url,
        "orgs",
        "create",
        "--slug",
        "team",
        "--name",
        "The Team",
        "--owner-email",
        "ada@example.com",
    )
    assert created.returncode == 0, created.stderr
    async with accounts.db.session() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT a.action, a.actor_type, a.actor_label FROM audit_events a "
                    "JOIN organizations o ON o.id = a.org_id WHERE o.slug = 'team'"
                )
            )
        ).all()
    assert [(r[0], r[1]) for r in rows] == [("org.create", "system")] * len(rows) and rows
    assert rows[0][2].startswith("cli:")
    unknown = await asyncio.to_thread(
        _jetdeck, database_url, "orgs", "create", "--slug", "x", "--owner-email", "no@example.com"
    )
    assert unknown.returncode != 0
