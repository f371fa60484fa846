"""Web tests see redirects as a browser's address bar would: one at a time. Browser tests get
a Chromium and signed-in pages (see tests/services/web/browser.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.accounts import PASSWORD
from tests.fixtures.services import unavailable
from tests.services.web.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, ConsolePage


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        client.follow_redirects = False
        yield client


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def console_page(
    browser: Any, served_app: str, make_user: Any
) -> AsyncIterator[Callable[..., Awaitable[ConsolePage]]]:
    """`await console_page(role)`: a page signed in as `<role>@<org>.test` (made on first use),
    watched for console errors and failed requests, which fail the test."""
    pages: list[ConsolePage] = []
    contexts: list[Any] = []

    async def open_page(
        role: str = "viewer", org: str = "acme", email: str | None = None
    ) -> ConsolePage:
        email = email or f"{role}@{org}.test"
        await make_user(email, org_slug=org, role=role)
        context = await browser.new_context(viewport=VIEWPORT, color_scheme="light")
        contexts.append(context)
        console = ConsolePage(await context.new_page(), served_app)
        console.watch()
        pages.append(console)
        await console.goto("/login")
        await console.page.get_by_label("Email").fill(email)
        await console.page.get_by_label("Password").fill(PASSWORD)
        await console.page.get_by_role("button", name="Sign in").click()
        await console.page.wait_for_url(f"{served_app}/orgs/**")
        return console

    yield open_page
    for context in contexts:
        await context.close()
    problems = [p for console in pages for p in console.problems]
    assert not problems, "console errors or failed requests:\n" + "\n".join(problems)
