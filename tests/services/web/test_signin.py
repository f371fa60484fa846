"""Signing in to the web app: an httpOnly cookie session with a CSRF token, going through the
same sign-in service, answers and attempt limits as the API."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text

from services.api.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from shared.accounts.models import Login, WebSession
from shared.accounts.tokens import token_digest
from shared.accounts.users import deactivate_user
from tests.fixtures.accounts import PASSWORD, Accounts, csrf_token, web_login

HTML = {"Accept": "text/html"}
EMAIL = "ada@example.com"


async def _signed_in(client: Any, make_user: Any, **kw: Any) -> str:
    """Sign Ada (editor in acme) in; returns the session token from the cookie jar."""
    await make_user(EMAIL, org_slug="acme", role="editor")
    response = await web_login(client, EMAIL, **kw)
    assert response.status_code == 303, response.text
    token: str | None = client.cookies.get(SESSION_COOKIE)
    assert token
    return token


def _session_cookie_header(response: Any) -> str:
    cookies = [c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    assert len(cookies) == 1, cookies
    return str(cookies[0])


async def test_signing_in_sets_an_httponly_samesite_cookie_and_opens_the_account_page(
    client, make_user
) -> None:
    await make_user(EMAIL, org_slug="acme", role="editor")
    await make_user(EMAIL, org_slug="globex", role="owner")

    response = await web_login(client, EMAIL)

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = _session_cookie_header(response).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "max-age=" in cookie
    assert "secure" not in cookie  # plain http here; see the https test
    account = await client.get("/account", headers=HTML)
    assert account.status_code == 200
    assert EMAIL in account.text
    assert "<code>acme</code></td><td>editor" in account.text
    assert "<code>globex</code></td><td>owner" in account.text
    assert account.headers["cache-control"] == "no-store"


async def test_pages_show_the_user_and_a_sign_out_button_or_a_sign_in_link(
    client, make_user
) -> None:
    anonymous = await client.get("/", headers=HTML)
    assert anonymous.status_code == 200
    assert 'href="/login">Sign in' in anonymous.text
    assert "Sign out" not in anonymous.text

    await _signed_in(client, make_user)
    landing = await client.get("/", headers=HTML)
    assert landing.headers["location"] == "/orgs/acme"  # a member lands on the dashboard
    home = await client.get("/orgs/acme", headers=HTML)
    assert EMAIL in home.text
    assert 'action="/logout"' in home.text and "Sign out" in home.text
    token = csrf_token(home.text)
    assert f'<meta name="csrf-token" content="{token}">' in home.text
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in home.text


async def test_over_https_the_session_cookie_is_secure(app: Litestar, make_user) -> None:
    await make_user(EMAIL, org_slug="acme")
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        client.follow_redirects = False
        response = await web_login(client, EMAIL)
        assert response.status_code == 303
        assert "secure" in _session_cookie_header(response).lower()
        assert (await client.get("/account", headers=HTML)).status_code == 200


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client, make_user) -> None:
    await make_user(EMAIL, org_slug="acme")

    wrong_password = await web_login(client, EMAIL, "not the password at all")
    unknown_email = await web_login(client, "nobody@example.com", PASSWORD)

    assert wrong_password.status_code == unknown_email.status_code == 400
    assert wrong_password.text.replace(EMAIL, "E") == unknown_email.text.replace(
        "nobody@example.com", "E"
    )
    assert "The email or password is not correct." in wrong_password.text
    assert SESSION_COOKIE not in client.cookies


async def test_the_form_is_rate_limited_like_the_api(client, make_user) -> None:
    await make_user(EMAIL, org_slug="acme")
    for _ in range(10):
        assert (await web_login(client, EMAIL, "wrong password, again")).status_code == 400

    limited = await web_login(client, EMAIL, "wrong password, again")

    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "Too many failed sign-in attempts" in limited.text
    # While the limit holds even the right password is refused, through the API too.
    assert (await web_login(client, EMAIL)).status_code == 429
    api = await client.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert api.status_code == 429
    assert SESSION_COOKIE not in client.cookies


async def test_the_sign_in_form_needs_its_csrf_token(client, make_user) -> None:
    await make_user(EMAIL, org_slug="acme")
    await client.get("/login", headers=HTML)  # the nonce cookie, but no token sent

    forged = await client.post(
        "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": "forged"}
    )
    missing = await client.post("/login", data={"email": EMAIL, "password": PASSWORD})

    assert forged.status_code == missing.status_code == 403
    assert "security token is missing or wrong" in forged.text
    assert SESSION_COOKIE not in client.cookies
    client.cookies.delete(LOGIN_CSRF_COOKIE)
    page = await client.get("/login")  # a token signed for another nonce is refused too
    client.cookies.delete(LOGIN_CSRF_COOKIE)
    await client.get("/login")
    stale = await client.post(
        "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_token(page.text)}
    )
    assert stale.status_code == 403


async def test_signing_out_without_the_csrf_token_is_refused_and_changes_nothing(
    client, make_user
) -> None:
    await _signed_in(client, make_user)

    for data in ({}, {"csrf_token": "0" * 64}):
        refused = await client.post("/logout", data=data, headers=HTML)
        assert refused.status_code == 403
        assert "security token is missing or wrong" in refused.text
    as_json = await client.post("/logout")
    assert as_json.status_code == 403
    assert as_json.json()["code"] == "csrf_failed"

    assert (await client.get("/account", headers=HTML)).status_code == 200


async def test_signing_out_revokes_the_session_on_the_server(
    client, make_user, accounts: Accounts
) -> None:
    token = await _signed_in(client, make_user)
    account = await client.get("/account", headers=HTML)

    response = await client.post(
        "/logout", data={"csrf_token": csrf_token(account.text)}, headers=HTML
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert SESSION_COOKIE not in client.cookies
    client.cookies.set(SESSION_COOKIE, token)  # the old cookie, kept by an attacker
    again = await client.get("/account", headers=HTML)
    assert again.status_code == 303
    assert again.headers["location"] == "/login?next=/account"
    assert (await client.get("/account")).status_code == 401
    async with accounts.db.session() as session:
        login = await session.scalar(
            select(Login)
            .join(WebSession, WebSession.login_id == Login.id)
            .where(WebSession.token_hash == token_digest(accounts.backends.settings, token))
        )
        assert login is not None and login.revoked_reason == "logout"


async def test_htmx_may_send_the_csrf_token_as_a_header(client, make_user) -> None:
    await _signed_in(client, make_user)
    token = csrf_token((await client.get("/account", headers=HTML)).text)

    response = await client.post("/logout", headers={"X-CSRF-Token": token, "HX-Request": "true"})

    assert response.status_code == 303
    gone = await client.get("/account", headers={"HX-Request": "true"})
    assert gone.status_code == 401  # no cookie any more: htmx is told where to go
    assert gone.headers["hx-redirect"] == "/login?next=/account"


async def test_a_deactivated_users_cookie_stops_working_on_the_next_request(
    client, make_user, accounts: Accounts
) -> None:
    await _signed_in(client, make_user)
    assert (await client.get("/account", headers=HTML)).status_code == 200  # now cached
    user = await make_user(EMAIL)

    await deactivate_user(accounts.backends, user.id)

    response = await client.get("/account", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert SESSION_COOKIE not in client.cookies  # the dead cookie is cleared
    assert EMAIL not in (await client.get("/", headers=HTML)).text


async def test_a_browser_that_is_not_signed_in_is_sent_to_the_sign_in_page(client) -> None:
    browser = await client.get("/account?tab=orgs", headers=HTML)
    assert browser.status_code == 303
    assert browser.headers["location"] == "/login?next=/account%3Ftab%3Dorgs"
    api_client = await client.get("/account")
    assert api_client.status_code == 401
    assert api_client.json()["code"] == "not_authenticated"


async def test_signing_in_returns_to_a_local_next_page_only(client, make_user) -> None:
    await make_user(EMAIL, org_slug="acme")
    form = await client.get("/login?next=https://evil.example/steal", headers=HTML)
    assert 'name="next" value="/"' in form.text
    assert "evil.example" not in form.text

    for evil in ("https://evil.example", "//evil.example/x", "/\\evil.example", "javascript:x"):
        client.cookies.delete(SESSION_COOKIE)
        response = await web_login(client, EMAIL, next_url=evil)
        assert response.status_code == 303
        assert response.headers["location"] == "/", evil

    client.cookies.delete(SESSION_COOKIE)
    response = await web_login(client, EMAIL, next_url="/account?tab=orgs")
    assert response.headers["location"] == "/account?tab=orgs"


async def test_a_signed_in_user_visiting_the_form_goes_on(client, make_user) -> None:
    await _signed_in(client, make_user)
    response = await client.get("/login?next=/account", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/account"


async def test_the_cookie_opens_the_web_app_but_not_the_json_api(client, make_user) -> None:
    """The API takes bearer tokens only, so it needs no CSRF defence."""
    token = await _signed_in(client, make_user)
    assert (await client.get("/api/v1/auth/me")).status_code == 401
    as_bearer = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401


async def test_the_session_token_appears_in_no_log_line_and_no_audit_entry(
    client, make_user, accounts: Accounts, auth_headers, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    token = await _signed_in(client, make_user)
    page = await client.get("/account", headers=HTML)
    created = await client.post(
        "/api/v1/orgs", json={"slug": "initech", "name": "Initech"}, headers=await auth_headers()
    )
    assert created.status_code == 201, created.text  # so the audit trail is not empty
    await client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    client.cookies.set(SESSION_COOKIE, token)
    await client.get("/account", headers=HTML)

    for record in caplog.records:
        assert token not in record.getMessage()
        assert token not in str(record.args or "")
        assert token not in (record.exc_text or "")
    async with accounts.db.session() as session:
        audit = (await session.execute(text("SELECT * FROM audit_events"))).all()
        stored = (await session.execute(select(WebSession.token_hash))).scalars().all()
    assert audit and token not in repr(audit)
    assert stored and token not in stored
    assert token not in page.text
