"""`GET /metrics`: JetDeck's own figures in Prometheus format, public or behind a token."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from services.app import create_app
from shared.config import MetricsSettings


async def test_metrics_count_requests_by_route_and_status_class(settings) -> None:
    app = create_app(settings.model_copy(update={"metrics": MetricsSettings(public=True)}))
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        await client.get("/healthz")
        await client.get("/api/v1/orgs/acme")  # not signed in: a 4xx
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'jetdeck_http_requests_total{method="GET",route="/healthz",status="2xx"}' in text
    assert 'route="/api/v1/orgs/{org}",status="4xx"' in text, text
    assert "jetdeck_queue_depth" in text


async def test_a_metrics_token_keeps_the_endpoint_private(settings) -> None:
    token = "scrape-" + "t" * 24
    app = create_app(settings.model_copy(update={"metrics": MetricsSettings(token=token)}))
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})

    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "metrics_token_required"
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert "jetdeck_http_requests_total" in right.text


async def test_metrics_are_closed_unless_a_token_is_set_or_they_are_declared_public(
    client,
) -> None:
    response = await client.get("/metrics")

    assert response.status_code == 401
    assert response.json()["code"] == "metrics_token_required"
    assert "JETDECK_METRICS_PUBLIC" in response.json()["detail"]
