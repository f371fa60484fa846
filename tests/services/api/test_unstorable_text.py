"""Text PostgreSQL cannot store (a NUL character) is the caller's mistake: 400, never 500.
Found by the fuzzer (tests/services/api/test_fuzz.py)."""

from __future__ import annotations

from typing import Any


async def test_a_nul_character_in_a_stored_field_answers_400(
    client: Any, auth_headers: Any
) -> None:
    owner = await auth_headers("owner")
    renamed = await client.patch("/api/v1/orgs/acme", json={"name": "Ac\x00me"}, headers=owner)
    assert renamed.status_code == 400, renamed.text
    assert renamed.json()["code"] == "invalid_text"
    key = await client.post(
        "/api/v1/orgs/acme/api-keys", json={"name": "k\x00", "role": "viewer"}, headers=owner
    )
    assert key.status_code == 400 and key.json()["code"] == "invalid_text"
    assert (await client.get("/api/v1/orgs/acme", headers=owner)).json()["name"] == "Acme"


async def test_a_nul_character_in_a_sign_in_email_answers_400(client: Any, org: Any) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"email": "a\x00@acme.test", "password": "x" * 12}
    )
    assert response.status_code == 400, response.text
