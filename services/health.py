from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency

from services.access import Access, access
from shared.backends import Backends


@get("/healthz", opt=access(Access.PUBLIC), tags=["health"], sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is alive; no dependency is checked."""
    return {"status": "ok"}


@get("/readyz", opt=access(Access.PUBLIC), tags=["health"])
async def readyz(backends: NamedDependency[Backends]) -> Response[dict[str, Any]]:
    """Ready when every configured backing service answers; 503 names the one that does not."""
    checks = await backends.readiness()
    ready = all(v in ("ok", "not configured") for v in checks.values())
    return Response(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
