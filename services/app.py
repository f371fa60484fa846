"""Compose the Litestar application: the API, the web app, or both (`jetdeck serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide

from services.access import assert_every_route_declares_access
from services.api.app import api_router, document_statuses, openapi_config
from services.api.audit import audit_middleware
from services.api.auth import access_middleware
from services.api.auth import dependencies as auth_dependencies
from services.api.errors import exception_handlers
from services.api.metrics import prometheus_metrics, request_metrics
from services.api.security import forwarded_headers, security_headers
from services.health import healthz, readyz
from services.sse import UNCOMPRESSED
from services.web.app import template_config, web_router
from shared.backends import Backends
from shared.config import Settings, get_settings
from shared.runtime import settle_heap

log = logging.getLogger("jetdeck")


def _backends(state: State) -> Backends:
    backends: Backends = state.backends
    return backends


IDLE_SWEEP_SECONDS = 60.0


async def _close_idle_connections(backends: Backends) -> None:
    """NATS connections to clusters nobody looked at for a while are closed, not kept."""
    while True:
        await asyncio.sleep(IDLE_SWEEP_SECONDS)
        try:
            await backends.nats.close_idle()
        except Exception:  # a failed close must not stop the sweeping
            log.exception("closing idle NATS connections failed")


def create_app(
    settings: Settings | None = None,
    *,
    api: bool = True,
    web: bool = True,
    backends: Backends | None = None,
) -> Litestar:
    """Build the app. Given `backends`, the caller owns them; otherwise the app opens and
    closes its own."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = backends is None
        app.state.backends = backends or Backends.open(settings)
        settle_heap()  # start-up is done (shared/runtime.py)
        sweeper = asyncio.create_task(_close_idle_connections(app.state.backends))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            if owned:
                await app.state.backends.close()

    handlers: list[object] = [healthz, readyz, prometheus_metrics]
    if api:
        handlers.append(api_router())
    if web:
        handlers.append(web_router())
    app = Litestar(
        route_handlers=handlers,  # type: ignore[arg-type]
        dependencies={"backends": Provide(_backends, sync_to_thread=False), **auth_dependencies()},
        # Forwarded headers from trusted proxies only. Access: one middleware enforces every
        # route's declared level, the next records every audited mutation; security headers on
        # every response; CORS only when asked.
        middleware=[
            *forwarded_headers(settings),
            request_metrics,
            access_middleware,
            audit_middleware,
        ],
        before_send=[security_headers],
        cors_config=CORSConfig(allow_origins=settings.app.cors_origins, allow_credentials=False)
        if settings.app.cors_origins
        else None,
        # HTML, CSS, JS and JSON leave gzipped when the client accepts it (level 6: most of
        # level 9's ratio for a fraction of its CPU); streams are compressed chunk by chunk.
        # Live (SSE) routes opt out (services/sse.py): the middleware holds a response's
        # headers until its first body chunk.
        compression_config=CompressionConfig(
            backend="gzip", gzip_compress_level=6, exclude_opt_key=UNCOMPRESSED
        ),
        exception_handlers=exception_handlers,
        openapi_config=openapi_config() if api else None,
        template_config=template_config(reload=settings.app.env == "development") if web else None,
        lifespan=[lifespan],
        # Every request body is bounded (413 beyond): JETDECK_MESSAGES_MAX_BODY_BYTES.
        request_max_body_size=settings.messages.max_body_bytes,
        debug=False,
    )
    assert_every_route_declares_access(app)
    if api:
        document_statuses(app)
    return app
