"""The backing services of a worker process, opened once on the worker's event loop."""

from __future__ import annotations

import asyncio

from shared.backends import Backends
from shared.config import get_settings

_backends: Backends | None = None
_loop: asyncio.AbstractEventLoop | None = None


def worker_backends() -> Backends:
    """Clients bound to the running loop (Dramatiq's event-loop thread in a worker)."""
    global _backends, _loop
    loop = asyncio.get_running_loop()
    if _backends is None or _loop is not loop:
        _backends = Backends.open(get_settings())
        _loop = loop
    return _backends


async def close_worker_backends() -> None:
    global _backends
    if _backends is not None:
        await _backends.close()
        _backends = None
