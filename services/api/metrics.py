"""/api/v1/orgs/{org}/clusters/{cluster}/streams/{stream}[/consumers/{consumer}]/metrics"""

from __future__ import annotations

import hmac
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, QueryParameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST

from services.access import Access, access
from services.api.auth import OrgContext
from services.api.errors import STATUS
from services.api.params import TIME_FORMAT, parse_time
from shared.backends import Backends, unavailable_from
from shared.errors import JetDeckError, NotAuthenticated
from shared.metrics.own import exposition, http_duration, http_requests
from shared.metrics.queries import CONSUMER_SERIES, STREAM_SERIES
from shared.metrics.services import object_metrics

Series = Annotated[
    str | None, QueryParameter(description="Comma-separated series names; all if absent.")
]
From = Annotated[
    str | None,
    QueryParameter(name="from", description="RFC 3339; default to - 1h", format=TIME_FORMAT),
]
To = Annotated[str | None, QueryParameter(description="RFC 3339; default now", format=TIME_FORMAT)]
# Samples are stored with 32-bit second timestamps: a time outside them is a caller's mistake.
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(2105, 12, 31, tzinfo=UTC)


def _window(from_: str | None, to: str | None) -> dict[str, datetime | None]:
    return {
        "start": parse_time("from", from_, earliest=EARLIEST, latest=LATEST),
        "end": parse_time("to", to, earliest=EARLIEST, latest=LATEST),
    }


Step = Annotated[
    str | None,
    QueryParameter(
        description="Seconds, or 30s / 5m / 1h; at least span/1000 and the collection interval"
    ),
]


class MetricsController(Controller):
    path = "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}"
    tags = ["metrics"]

    @get(
        "/metrics",
        opt=access(Access.VIEWER),
        description=f"Stream series: {', '.join(STREAM_SERIES)}.",
    )
    async def stream_metrics(
        self,
        cluster: FromPath[str],
        stream: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
        series: Series = None,
        from_: From = None,
        to: To = None,
        step: Step = None,
    ) -> dict[str, Any]:
        return await object_metrics(
            backends,
            org_context,
            cluster,
            stream,
            None,
            series=series,
            step=step,
            **_window(from_, to),
        )

    @get(
        "/consumers/{consumer:str}/metrics",
        opt=access(Access.VIEWER),
        description=f"Consumer series: {', '.join(CONSUMER_SERIES)}.",
    )
    async def consumer_metrics(
        self,
        cluster: FromPath[str],
        stream: FromPath[str],
        consumer: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
        series: Series = None,
        from_: From = None,
        to: To = None,
        step: Step = None,
    ) -> dict[str, Any]:
        return await object_metrics(
            backends,
            org_context,
            cluster,
            stream,
            consumer,
            series=series,
            step=step,
            **_window(from_, to),
        )


# ---- GET /metrics: JetDeck's own figures in Prometheus format -----------------------------


@get(
    "/metrics",
    opt=access(Access.PUBLIC),
    include_in_schema=False,
    sync_to_thread=True,
    media_type="text/plain; version=0.0.4; charset=utf-8",
)
def prometheus_metrics(
    request: Request[Any, Any, Any], backends: NamedDependency[Backends]
) -> Response[bytes]:
    """Needs `Authorization: Bearer <JETDECK_METRICS_TOKEN>`; open to anyone only with
    JETDECK_METRICS_PUBLIC=true (the figures name every organization's clusters)."""
    settings = backends.settings.metrics
    token = settings.token
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise NotAuthenticated(
                "Send `Authorization: Bearer <JETDECK_METRICS_TOKEN>`.",
                code="metrics_token_required",
            )
    elif not settings.public:
        raise NotAuthenticated(
            "/metrics is closed: set JETDECK_METRICS_TOKEN (and scrape with `Authorization: "
            "Bearer <token>`) or, on a trusted network, JETDECK_METRICS_PUBLIC=true.",
            code="metrics_token_required",
        )
    return Response(exposition(backends.settings.redis.url), media_type=CONTENT_TYPE_LATEST)


def request_metrics(app: ASGIApp) -> ASGIApp:
    """Count every routed request by method, route template and status class."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def remember(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, remember)
        except Exception as exc:
            # Turned into a response further out (by the error handlers): count that status.
            status[0] = _status_of(exc)
            raise
        finally:
            route = str(scope.get("path_template") or "unmatched")
            method = str(scope.get("method", ""))
            http_requests.labels(method, route, f"{status[0] // 100}xx").inc()
            http_duration.labels(method, route).observe(time.perf_counter() - started)

    return middleware


def _status_of(exc: Exception) -> int:
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, JetDeckError):
        return next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
    return 503 if unavailable_from(exc) is not None else 500
