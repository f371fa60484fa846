"""Driving the console in Debian's Chromium (Playwright for Python, never a downloaded browser).

Fixtures (tests/services/web/conftest.py):
- `browser` → a headless Chromium for the session (fails under CI=true when it is missing).
- `console_page(role="viewer", org="acme", email=None)` → a `ConsolePage` signed in through
  the form as a user with that role: `.page` (Playwright's Page), `.base` (the served app's
  URL), `.goto(path)`. It records console errors, uncaught exceptions, failed requests and
  answers of 400 or more; the test fails at teardown if there was any (`.expect_problem(...)`
  allows one a test provokes on purpose).

Helpers:
- `await assert_accessible(page, "dashboard")` injects axe-core (node_modules, from `make web`)
  and fails on any serious or critical violation, listing them.
- `await screenshot(page, "dashboard")` saves `docs/screenshots/dashboard.png` for the README
  when `JETDECK_SCREENSHOTS=1` (otherwise takes it and drops it).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
SERIOUS = ("serious", "critical")


@dataclass
class ConsolePage:
    page: Any
    base: str
    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    async def goto(self, path: str) -> Any:
        return await self.page.goto(self.base + path)

    def expect_problem(self, pattern: str) -> None:
        """A console error or failed request the test provokes on purpose (a regex)."""
        self.allowed.append(re.compile(pattern))

    def _request_failed(self, request: Any) -> None:
        # ERR_ABORTED is the browser cancelling a request itself, e.g. the favicon of a page
        # it navigated away from: no answer failed. Errors the server sent are 4xx/5xx
        # responses, recorded below.
        if "ERR_ABORTED" in str(request.failure):
            return
        self.record(f"failed: {request.method} {request.url} {request.failure}")

    def record(self, problem: str) -> None:
        if not any(p.search(problem) for p in self.allowed):
            self.problems.append(problem)

    def watch(self) -> None:
        page = self.page
        page.on(
            "console",
            lambda m: self.record(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.record(f"uncaught: {exc}"))
        page.on("requestfailed", self._request_failed)
        page.on(
            "response",
            lambda r: (
                self.record(f"{r.status}: {r.request.method} {r.url}") if r.status >= 400 else None
            ),
        )


async def assert_accessible(page: Any, name: str) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    assert AXE.is_file(), f"{AXE} is missing: run `make web` (npm ci installs axe-core)"
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    results = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [v for v in results["violations"] if v.get("impact") in SERIOUS]
    report = [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"][:5]],
        }
        for v in serious
    ]
    assert not serious, f"axe-core on {name}: " + json.dumps(report, indent=2)


async def screenshot(page: Any, name: str) -> Path | None:
    """A PNG of the viewport. With `JETDECK_SCREENSHOTS=1` it is saved as
    docs/screenshots/<name>.png (committed: the README shows them); otherwise it is taken and
    dropped, so an ordinary test run leaves the work tree clean."""
    png = await page.screenshot(full_page=False)
    assert png.startswith(b"\x89PNG")
    if os.environ.get("JETDECK_SCREENSHOTS") != "1":
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    path.write_bytes(png)
    return path
