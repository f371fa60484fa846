"""Security headers on every response; HSTS only over https; CORS off unless configured."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from services.app import create_app


async def test_every_response_carries_the_security_headers(client) -> None:
    for path in ("/healthz", "/api/v1/no-such-route", "/api/v1/orgs/acme"):
        response = await client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in response.headers


async def test_hsts_is_sent_only_over_https(app) -> None:
    async with AsyncTestClient(app, base_url="https://jetdeck.example") as client:
        response = await client.get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_cors_is_off_unless_origins_are_configured(client, settings) -> None:
    preflight = {"Origin": "https://ui.example", "Access-Control-Request-Method": "GET"}
    off = await client.options("/api/v1/auth/me", headers=preflight)
    assert "access-control-allow-origin" not in off.headers
    configured = settings.model_copy(
        update={"app": settings.app.model_copy(update={"cors_origins": ["https://ui.example"]})}
    )
    async with AsyncTestClient(create_app(configured)) as cors_client:
        allowed = await cors_client.options("/api/v1/auth/me", headers=preflight)
        other = await cors_client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://ui.example"
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"
