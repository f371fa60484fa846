"""Input that once reached the catch-all 500: every one of these is the caller's mistake (400)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("param", ["offset", "limit"])
@pytest.mark.parametrize("path", ["api-keys", "members", "audit-events"])
@pytest.mark.parametrize("value", ["18446744073709551616", "27752151403888844800", "-1"])
async def test_a_page_position_beyond_any_list_is_refused_with_400(
    client: Any, auth_headers: Any, path: str, param: str, value: str
) -> None:
    response = await client.get(
        f"/api/v1/orgs/acme/{path}", params={param: value}, headers=await auth_headers("admin")
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize("param", ["to", "from"])
@pytest.mark.parametrize(
    "value", ["0.5", "-1", "99999999999999", "yesterday", "1900-01-01T00:00:00Z"]
)
async def test_a_metrics_time_that_is_not_rfc3339_is_refused_with_400(
    on_server: Any, param: str, value: str
) -> None:
    for path in ("/streams/S/metrics", "/streams/S/consumers/C/metrics"):
        response = await on_server.get(path, params={param: value})
        assert response.status_code == 400, (path, response.text)


@pytest.mark.parametrize("value", ["0.5", "2030-01-01T00:00:00", "nonsense"])
async def test_an_audit_time_that_is_not_rfc3339_with_a_zone_is_refused_with_400(
    client: Any, auth_headers: Any, value: str
) -> None:
    response = await client.get(
        "/api/v1/orgs/acme/audit-events",
        params={"since": value},
        headers=await auth_headers("admin"),
    )
    assert response.status_code == 400, response.text
    assert response.json()["extra"]["field"] == "since"


async def test_an_environment_longer_than_its_column_is_refused_with_400(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    body = {"name": "long-env", "servers": nats_server.servers, "environment": "e" * 100}
    response = await client.post(
        "/api/v1/orgs/acme/clusters", json=body, headers=await auth_headers("admin")
    )
    assert response.status_code == 400, response.text
    assert "environment" in response.text


@pytest.mark.parametrize("name", ["has space", "a.b", "wild*", "gt>", "slash/"])
async def test_a_stream_name_nats_cannot_carry_in_a_body_is_refused_with_400_naming_the_field(
    on_server: Any, name: str
) -> None:
    response = await on_server.post("/streams", json={"name": name, "subjects": ["x.y"]})
    assert response.status_code == 400, response.text
    assert response.json()["extra"]["field"] == "name"


@pytest.mark.parametrize("field", ["name", "durable_name"])
async def test_a_consumer_name_nats_cannot_carry_in_a_body_is_refused_with_400_naming_the_field(
    on_server: Any, field: str
) -> None:
    await on_server.create_stream("NAMES")
    response = await on_server.post(
        "/streams/NAMES/consumers", json={field: "has space", "ack_policy": "explicit"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["extra"]["field"] == field
