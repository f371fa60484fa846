"""A web form's POST goes through the same access and audit machinery as the API: its route
declares `access(Access.EDITOR, audit=...)`, carries the session's CSRF token, and lands on
the audit trail with the signed-in user as the actor."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.testing import AsyncTestClient

import services.web.app as web_app
from services.access import Access, access
from services.api.auth import OrgContext
from services.app import create_app
from services.web.console import see_other
from shared.audit import record_change
from shared.audit.trail import list_events
from tests.fixtures.accounts import csrf_token, web_login

HTML = {"Accept": "text/html"}


@post("/orgs/{org:str}/probe-form", opt=access(Access.EDITOR, audit="probe.rename"))
async def probe_form(
    request: Request[Any, Any, Any], org_context: NamedDependency[OrgContext]
) -> Response[Any]:
    record_change("probe:thing", {"name": "old"}, {"name": "new"})
    return see_other(request, f"/orgs/{org_context.slug}")


@pytest.fixture
async def web_client(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app with a form route added the way a console page adds one."""
    monkeypatch.setattr(web_app, "WEB_HANDLERS", [*web_app.WEB_HANDLERS, probe_form])
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as client:
        client.follow_redirects = False
        yield client


async def _signed_in_token(client: Any, make_user: Any, role: str) -> str:
    await make_user(f"{role}@example.com", org_slug="acme", role=role)
    assert (await web_login(client, f"{role}@example.com")).status_code == 303
    return csrf_token((await client.get("/orgs/acme", headers=HTML)).text)


async def test_an_editors_form_post_is_audited_like_an_api_call(
    web_client, make_user, accounts
) -> None:
    token = await _signed_in_token(web_client, make_user, "editor")
    response = await web_client.post(
        "/orgs/acme/probe-form", data={"csrf_token": token}, headers=HTML
    )
    assert response.status_code == 303, response.text
    org = await accounts.make_org("acme")
    events = (await list_events(accounts.db, org.id, action="probe.rename")).items
    assert len(events) == 1
    assert events[0].actor.label == "editor@example.com"
    assert events[0].target == "probe:thing"

    by_htmx = await web_client.post(
        "/orgs/acme/probe-form", headers={**HTML, "HX-Request": "true", "X-CSRF-Token": token}
    )
    assert by_htmx.status_code == 204
    assert by_htmx.headers["hx-redirect"] == "/orgs/acme"


async def test_a_form_post_without_the_csrf_token_changes_nothing(
    web_client, make_user, accounts
) -> None:
    await _signed_in_token(web_client, make_user, "editor")
    response = await web_client.post("/orgs/acme/probe-form", data={}, headers=HTML)
    assert response.status_code == 403
    org = await accounts.make_org("acme")
    assert (await list_events(accounts.db, org.id, action="probe.rename")).total == 0


async def test_a_viewers_forged_post_is_refused(web_client, make_user, accounts) -> None:
    token = await _signed_in_token(web_client, make_user, "viewer")
    response = await web_client.post(
        "/orgs/acme/probe-form", data={"csrf_token": token}, headers=HTML
    )
    assert response.status_code == 403
    assert "editor role" in response.text
    org = await accounts.make_org("acme")
    assert (await list_events(accounts.db, org.id, action="probe.rename")).total == 0
