"""A real browser signs in through the form and reaches its account page."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.fixtures.accounts import PASSWORD
from tests.fixtures.services import unavailable
from tests.services.web.browser import CHROMIUM, CHROMIUM_ARGS


@pytest.mark.browser
async def test_a_browser_signs_in_with_the_form_and_sees_its_account(
    served_app: str, make_user: Any
) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    await make_user("ada@example.com", org_slug="acme", role="editor")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await browser.new_page()
            await page.goto(f"{served_app}/account")
            assert page.url == f"{served_app}/login?next=/account"  # sent to sign in first
            await page.get_by_label("Email").fill("ada@example.com")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{served_app}/account")
            assert await page.get_by_role("heading", name="Your account").is_visible()
            assert "editor" in await page.locator("table").inner_text()
            cookies = {c["name"]: c for c in await page.context.cookies()}
            assert cookies["jetdeck_session"]["httpOnly"] is True
            assert await page.evaluate("document.cookie") == ""  # invisible to scripts

            await page.get_by_role("button", name="Sign out").click()
            await page.wait_for_url(f"{served_app}/login")
            await page.goto(f"{served_app}/account")
            assert page.url.startswith(f"{served_app}/login")
        finally:
            await browser.close()
