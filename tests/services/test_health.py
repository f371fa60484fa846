"""/healthz, /readyz, the error format and the OpenAPI document (API.md)."""

from litestar.testing import AsyncTestClient

from services.app import create_app
from services.embedded.process import free_port
from services.embedded.redis import EmbeddedRedis
from tests.fixtures.services import make_settings


async def test_healthz_checks_nothing_and_says_ok(client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ok_when_every_backing_service_answers(client) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "clickhouse": "ok"},
    }


async def test_readyz_turns_503_and_names_redis_when_redis_stops(
    tmp_path, database_url, clickhouse_migrated
) -> None:
    redis_server = EmbeddedRedis(tmp_path / "redis", free_port(), persist=False).start()
    settings = make_settings(
        database={"url": database_url},
        redis={"url": redis_server.url},
        clickhouse={"url": clickhouse_migrated},
    )
    async with AsyncTestClient(create_app(settings)) as client:
        assert (await client.get("/readyz")).status_code == 200
        redis_server.stop()
        response = await client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"] != "ok"
    assert body["checks"]["database"] == "ok"


async def test_an_unknown_path_answers_in_the_api_error_format(client) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    body = response.json()
    assert body["status_code"] == 404
    assert body["code"] == "not_found"
    assert body["detail"]
    assert body["extra"] == {}


async def test_the_openapi_document_is_served_at_api_openapi_json(client) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/healthz" in document["paths"]


async def test_the_web_home_page_says_what_is_running(client) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "database" in response.text and "redis" in response.text


def test_api_alone_serves_no_web_pages(settings) -> None:
    app = create_app(settings, web=False)
    paths = {route.path for route in app.routes}
    assert "/" not in paths and "/readyz" in paths
