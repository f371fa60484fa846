"""The OpenAPI document lists every status an operation can answer, derived from the route's
declared access and kind, so routes added later are documented too."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, get
from litestar.testing import AsyncTestClient

import services.api.app as api_app
from services.access import Access, access
from services.app import create_app


async def _document(app: Litestar) -> dict[str, Any]:
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


async def test_every_operation_documents_the_errors_its_access_level_can_answer(
    client: Any,
) -> None:
    document = (await client.get("/api/openapi.json")).json()
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answered = set(operation["responses"])
            assert {"400", "503"} <= answered, (method, path)
            if "{org}" in path:
                assert {"401", "403", "404"} <= answered, (method, path)
            if method in {"post", "put", "patch", "delete"}:
                assert {"401", "409"} <= answered, (method, path)
            error = operation["responses"]["503"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}
            checked += 1
    assert checked > 40
    assert set(document["paths"]["/api/v1/auth/login"]["post"]["responses"]) >= {"401", "429"}


async def test_a_route_added_later_is_documented_without_doing_anything(settings: Any) -> None:
    @get("/orgs/{org:str}/later", opt=access(Access.VIEWER, statuses=(429,)))
    async def later() -> dict[str, str]:
        return {}

    api_app.API_HANDLERS.append(later)
    try:
        document = await _document(create_app(settings))
    finally:
        api_app.API_HANDLERS.remove(later)
    answered = set(document["paths"]["/api/v1/orgs/{org}/later"]["get"]["responses"])
    assert answered == {"200", "400", "401", "403", "404", "429", "503"}
