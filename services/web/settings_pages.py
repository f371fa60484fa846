"""Organization settings in the console — members, API keys, the audit log — plus the change
of password on `/account` and the page an invitation link opens.

Access is the API's: everyone reads the members, admins manage them, read and revoke the
pending invitations, and read keys and the audit log (the navigation links only what the user
may open). What is shown once — an
invitation link, a new API key — is in the POST's answer only, never stored or redirected
to: reloading does not show it again.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from services.access import Access, access
from services.api.auth import Principal
from services.web.console import (
    Crumb,
    form_errors,
    org_url,
    page_number,
    render,
    see_other,
    submit_form,
)
from services.web.pages import NO_STORE, page, session_user
from shared.accounts import api_keys, members, orgs, sessions
from shared.accounts.authenticate import user_id_of
from shared.accounts.principals import OrgContext
from shared.accounts.roles import Role
from shared.audit.redact import REDACTED
from shared.audit.trail import list_events
from shared.backends import Backends
from shared.errors import Invalid, JetDeckError

MEMBERS_PER_PAGE = 50
INVITATIONS_SHOWN = 100  # the newest pending ones; the page says when there are more
KEYS_PER_PAGE = 100
EVENTS_PER_PAGE = 50
ROLES = [r.value for r in Role]


def _roles_up_to(ctx: OrgContext) -> list[str]:
    """The roles this user may grant: their own and below."""
    return [r.value for r in Role if ctx.role.at_least(r)]


# Members


async def _members_page(
    request: Request[Any, Any, Any],
    backends: Backends,
    ctx: OrgContext,
    *,
    invitation: Any = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    number = page_number(request)
    listing = await members.list_members(
        backends, ctx, (number - 1) * MEMBERS_PER_PAGE, MEMBERS_PER_PAGE
    )
    link = None
    if invitation is not None:
        link = str(request.base_url).rstrip("/") + f"/invitations/{invitation.token}"
    pending = None
    if ctx.role.at_least(Role.ADMIN):  # as the API: admins read the pending invitations
        pending = await members.list_invitations(backends, ctx, 0, INVITATIONS_SHOWN)
    return await render(
        request,
        backends,
        "members.html",
        org=ctx,
        section="members",
        crumbs=[Crumb("Settings"), Crumb("Members")],
        status_code=status_code,
        members=listing.items,
        total=listing.total,
        page_number=number,
        pages=max(1, math.ceil(listing.total / MEMBERS_PER_PAGE)),
        invitation=invitation,
        invitation_link=link,
        pending=pending.items if pending else [],
        pending_total=pending.total if pending else 0,
        grantable=_roles_up_to(ctx),
        values=values or {},
        errors=errors or {},
    )


def _member_error(user_id: uuid.UUID, exc: JetDeckError) -> dict[str, str]:
    """A refused change of one member shows in that member's row."""
    return {f"member-{user_id}": form_errors(exc).popitem()[1]}


@get("/orgs/{org:str}/settings/members", opt=access(Access.VIEWER))
async def members_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    return await _members_page(request, backends, org_context)


@post(
    "/orgs/{org:str}/settings/members",
    status_code=200,
    opt=access(Access.ADMIN, audit="member.invite", users_only=True),
)
async def invite(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    """The invitation link is in this answer only: hand it to the invitee."""
    form = await request.form()
    email, role = str(form.get("email") or "").strip(), str(form.get("role") or "")

    async def invited() -> Any:
        if role not in ROLES:
            raise Invalid("Choose a role.", extra={"field": "role"})
        if "@" not in email:
            raise Invalid("Give the invitee's email address.", extra={"field": "email"})
        return await members.invite(backends, org_context, email, Role(role))

    show = partial(_members_page, request, backends, org_context)
    return await submit_form(
        request,
        invited,
        again=partial(show, values={"email": email, "role": role}),
        done=lambda invitation: show(invitation=invitation),
        errors=partial(form_errors, codes={"already_member": "email", "role_above_yours": "role"}),
    )


@post(
    "/orgs/{org:str}/settings/members/{user_id:uuid}/role",
    opt=access(Access.ADMIN, audit="member.update"),
)
async def change_role(
    request: Request[Any, Any, Any],
    user_id: FromPath[uuid.UUID],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    form = await request.form()
    role = str(form.get("role") or "")

    async def change() -> Any:
        if role not in ROLES:
            raise Invalid("Choose a role.")
        return await members.change_role(backends, org_context, user_id, Role(role))

    return await submit_form(
        request,
        change,
        again=partial(_members_page, request, backends, org_context),
        done=org_url(org_context.slug, "settings", "members"),
        errors=partial(_member_error, user_id),
    )


@post(
    "/orgs/{org:str}/settings/members/{user_id:uuid}/remove",
    opt=access(Access.ADMIN, audit="member.remove"),
)
async def remove_member(
    request: Request[Any, Any, Any],
    user_id: FromPath[uuid.UUID],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    left = user_id == org_context.principal.user_id  # left the organization
    return await submit_form(
        request,
        lambda: members.remove_member(backends, org_context, user_id),
        again=partial(_members_page, request, backends, org_context),
        done="/account" if left else org_url(org_context.slug, "settings", "members"),
        errors=partial(_member_error, user_id),
    )


@post(
    "/orgs/{org:str}/settings/members/invitations/{invitation_id:uuid}/revoke",
    opt=access(Access.ADMIN, audit="invitation.revoke"),
)
async def revoke_invitation(
    request: Request[Any, Any, Any],
    invitation_id: FromPath[uuid.UUID],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    """The invitation's link stops working at once."""
    try:
        await members.revoke_invitation(backends, org_context, invitation_id)
    except JetDeckError as exc:
        if exc.code not in ("invitation_not_found", "role_above_yours"):
            raise
        return await _members_page(
            request,
            backends,
            org_context,
            errors={"invitations": exc.detail},
            status_code=422,
        )
    return see_other(request, org_url(org_context.slug, "settings", "members"))


# API keys


async def _keys_page(
    request: Request[Any, Any, Any],
    backends: Backends,
    ctx: OrgContext,
    *,
    created: Any = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    listing = await api_keys.list_api_keys(backends, ctx, 0, KEYS_PER_PAGE)
    return await render(
        request,
        backends,
        "api_keys.html",
        org=ctx,
        section="api-keys",
        crumbs=[Crumb("Settings"), Crumb("API keys")],
        status_code=status_code,
        keys=listing.items,
        total=listing.total,
        created=created,
        grantable=_roles_up_to(ctx),
        values=values or {"role": "viewer"},
        errors=errors or {},
    )


def _utc_time(value: str, field: str) -> datetime | None:
    """A `datetime-local` (or ISO) input's value, read as UTC when it gives no zone."""
    value = value.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(
            "Give a date and time (YYYY-MM-DDTHH:MM, UTC).", extra={"field": field}
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@get("/orgs/{org:str}/settings/api-keys", opt=access(Access.ADMIN))
async def keys_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    return await _keys_page(request, backends, org_context)


@post(
    "/orgs/{org:str}/settings/api-keys",
    status_code=200,
    opt=access(Access.ADMIN, audit="api_key.create", users_only=True),
)
async def create_key(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    """The key is in this answer only (with a copy button)."""
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("name", "role", "expires_at")}

    async def create() -> Any:
        name = values["name"].strip()
        if not name or len(name) > 200:
            raise Invalid("Name the key (at most 200 characters).", extra={"field": "name"})
        if values["role"] not in ROLES:
            raise Invalid("Choose a role.", extra={"field": "role"})
        expires_at = _utc_time(values["expires_at"], "expires_at")
        return await api_keys.create_api_key(
            backends, org_context, name, Role(values["role"]), expires_at
        )

    show = partial(_keys_page, request, backends, org_context)
    return await submit_form(
        request,
        create,
        again=partial(show, values=values),
        done=lambda created: show(created=created),
        errors=_key_errors,
    )


def _key_errors(exc: JetDeckError) -> dict[str, str]:
    errors = form_errors(exc, codes={"role_above_yours": "role"})
    if "__all__" in errors and "expires_at" in str(exc.detail):
        return {"expires_at": errors["__all__"]}
    return errors


@post(
    "/orgs/{org:str}/settings/api-keys/{key_id:uuid}/revoke",
    opt=access(Access.ADMIN, audit="api_key.revoke"),
)
async def revoke_key(
    request: Request[Any, Any, Any],
    key_id: FromPath[uuid.UUID],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any]:
    await api_keys.revoke_api_key(backends, org_context, key_id)
    return see_other(request, org_url(org_context.slug, "settings", "api-keys"))


# Audit log


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"auth": {"type": "token"}}` → `{"auth.type": "token"}` (lists stay whole)."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat |= _flatten(inner, f"{prefix}{key}.")
        return flat
    return {prefix.rstrip("."): value} if prefix else {}


def diff_rows(diff: dict[str, Any]) -> list[tuple[str, str, str]]:
    """An audit row's diff as (field, before, after), one per field that changed; secrets
    stay as the trail stored them (`[redacted]`)."""
    if not diff:
        return []
    before = _flatten(diff.get("before") or {})
    after = _flatten(diff.get("after") or {})
    rows = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if old == new and old != REDACTED:
            continue
        rows.append((key, _shown(old), _shown(new)))
    return rows


@get("/orgs/{org:str}/settings/audit", opt=access(Access.ADMIN))
async def audit_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    """Newest first, filtered by actor, action (`member.*`), target (`cluster:*`) and time
    (UTC), all in the URL; `audit_table` is the block the filters and pages refresh."""
    query = request.query_params
    filters = {k: query.get(k, "").strip() for k in ("actor", "action", "target", "since", "until")}
    errors: dict[str, str] = {}
    times: dict[str, datetime | None] = {}
    for key in ("since", "until"):
        try:
            times[key] = _utc_time(filters[key], key)
        except Invalid as exc:
            errors[key], times[key] = exc.detail, None
    number = page_number(request)
    assert backends.database is not None
    events = await list_events(
        backends.database,
        org_context.org_id,
        actor=filters["actor"] or None,
        action=filters["action"] or None,
        target=filters["target"] or None,
        since=times["since"],
        until=times["until"],
        offset=(number - 1) * EVENTS_PER_PAGE,
        limit=EVENTS_PER_PAGE,
    )
    return await render(
        request,
        backends,
        "audit.html",
        org=org_context,
        section="audit",
        crumbs=[Crumb("Settings"), Crumb("Audit log")],
        fragments=("audit_table",),
        status_code=422 if errors else 200,
        events=[(e, diff_rows(e.diff)) for e in events.items],
        total=events.total,
        page_number=number,
        pages=max(1, math.ceil(events.total / EVENTS_PER_PAGE)),
        filters=filters,
        errors=errors,
    )


# Your account: the password


@post(
    "/account/password",
    status_code=200,
    opt=access(Access.AUTHENTICATED, audit="user.password_change", users_only=True),
)
async def change_password(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    backends: NamedDependency[Backends],
) -> Template:
    """API.md, Auth: the current password and a new one; every other login ends (this
    browser's session stays)."""
    form = await request.form()
    current = str(form.get("current_password") or "")
    new, again = str(form.get("new_password") or ""), str(form.get("new_password_again") or "")
    errors: dict[str, str] = {}
    ended = None
    try:
        if new != again:
            raise Invalid("The two new passwords differ.", extra={"field": "new_password_again"})
        if not current:
            raise Invalid("Give your current password.", extra={"field": "current_password"})
        ended = await sessions.change_password(
            backends,
            user_id_of(principal),
            current,
            new,
            keep_login=principal.login_id,
            ip=request.client.host if request.client else None,
        )
    except JetDeckError as exc:
        errors = form_errors(
            exc,
            codes={
                "invalid_credentials": "current_password",
                "weak_password": "new_password",
                "invalid": "new_password",
            },
        )
    me = await orgs.me(sessions.database(backends), user_id_of(principal))
    return await render(
        request,
        backends,
        "account.html",
        org=None,
        section="account",
        status_code=422 if errors else 200,
        me=me,
        errors=errors,
        password_changed=ended,
    )


# Accepting an invitation (the link shown once on the members page)


@get("/invitations/{token:str}", opt=access(Access.PUBLIC))
async def invitation_form(
    request: Request[Any, Any, Any], token: FromPath[str], backends: NamedDependency[Backends]
) -> Template:
    return page(
        "invitation.html",
        backends,
        await session_user(request, backends),
        token=token,
        errors={},
        values={},
    )


@post("/invitations/{token:str}", opt=access(Access.PUBLIC, audit="invitation.accept"))
async def accept_invitation(
    request: Request[Any, Any, Any], token: FromPath[str], backends: NamedDependency[Backends]
) -> Response[Any] | Template:
    """A new user gives a name and password; an existing one their password. Then sign in."""
    form = await request.form()
    name, password = str(form.get("name") or "").strip(), str(form.get("password") or "")
    try:
        accepted = await members.accept_invitation(
            backends,
            token,
            password,
            name,
            ip=request.client.host if request.client else None,
        )
    except JetDeckError as exc:
        wrong = {"invalid_credentials": "password", "weak_password": "password"}
        errors = form_errors(exc, codes={"name_required": "name", **wrong})
        return page(
            "invitation.html",
            backends,
            await session_user(request, backends),
            status_code=422,
            token=token,
            errors=errors,
            values={"name": name},
        )
    return Redirect(f"/login?next=/orgs/{accepted.org.slug}", status_code=303, headers=NO_STORE)


HANDLERS = [
    members_page,
    invite,
    change_role,
    remove_member,
    revoke_invitation,
    keys_page,
    create_key,
    revoke_key,
    audit_page,
    change_password,
    invitation_form,
    accept_invitation,
]
