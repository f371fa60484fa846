"""The web console's static files at run time: hashed URLs for templates, and their route.

`make web` (services/web/build_assets.py) writes `static/dist/` with content-hashed file names
and `manifest.json`. Templates call the `asset()` global — `{{ asset('app.js') }}` →
`/static/app.3f2a9c1b7d0e.js` — and the route below serves those files as immutable: a name
changes whenever its content does, so browsers may keep each file for a year.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from services.access import Access, access
from services.web.build_assets import DIST, MANIFEST

STATIC_PATH = "/static"
IMMUTABLE = CacheControlHeader(public=True, max_age=31_536_000, immutable=True)


class AssetsMissing(RuntimeError):
    pass


@cache
def manifest(dist: Path = DIST) -> dict[str, str]:
    """Logical name → hashed file name, read once per process."""
    try:
        loaded: dict[str, str] = json.loads((dist / MANIFEST).read_text())
    except FileNotFoundError:
        raise AssetsMissing(
            f"{dist / MANIFEST} is missing: build the web console's files with `make web`"
        ) from None
    return loaded


def asset(name: str) -> str:
    """The URL of a built file by its logical name (`app.js`, `htmx.js`, `uplot.css` …)."""
    files = manifest()
    if name not in files:
        raise AssetsMissing(f"no asset {name!r}; known: {', '.join(sorted(files))}")
    return f"{STATIC_PATH}/{files[name]}"


def static_router() -> Router:
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[DIST],
        cache_control=IMMUTABLE,
        opt=access(Access.PUBLIC),
        include_in_schema=False,
        name="static",
    )
