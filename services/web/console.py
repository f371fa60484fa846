"""The console's page helper and the conventions every console page follows.

URLs (every view state — filter, sort, page, tab, time range — is a query parameter, so a link
pasted in Slack opens the same view):

    /orgs/{org}                                             dashboard
    /orgs/{org}/clusters                                    clusters
    /orgs/{org}/clusters/new | import                       register (Test connection) | natscli
    /orgs/{org}/clusters/{cluster}                          one cluster (…/edit to change it)
    /orgs/{org}/clusters/{cluster}/streams                  its streams (?search=&sort=&page=)
    /orgs/{org}/clusters/{cluster}/streams/{stream}         ?tab=overview|consumers|config|messages
    /orgs/{org}/clusters/{cluster}/streams/{stream}/consumers/{consumer}
    /orgs/{org}/alerts                                      ?state=firing|pending|resolved|all
                                                            &severity=&cluster=&rule=
    /orgs/{org}/alerts/{id}                                 one alert (?range= of its chart)
    /orgs/{org}/alerts/rules | rules/new | rules/{id}       rules, their editor and preview
    /orgs/{org}/alerts/silences                             ?show=all; ?alert={id} fills the form
    /orgs/{org}/settings/members | api-keys | channels | audit
    /account                                                you, your organizations, your password
    /invitations/{token}                                    accept an invitation (public)
    /status                                                 backing services (public)
    /                                                       → your first organization's dashboard

Routes. A console route lives in a module of `services/web/` and is listed in `WEB_HANDLERS`
(`services/web/app.py`), which `web_router()` mounts with cookie auth, CSRF on mutations and
error pages, out of the OpenAPI schema. It declares its access like an API route and takes
the same dependencies:

    @get("/orgs/{org:str}/clusters", opt=access(Access.VIEWER))
    async def clusters_page(
        request: Request[Any, Any, Any],
        backends: NamedDependency[Backends],
        org_context: NamedDependency[OrgContext],
    ) -> Template:
        listing = await clusters.list_clusters(backends, org_context)
        return await render(
            request, backends, "clusters.html", org=org_context, section="clusters",
            crumbs=[Crumb("Clusters")], fragments=("clusters_table",), registered=listing.items,
        )

`render()` answers a normal request with the whole page (the shell: top bar with the
organization and cluster switchers, navigation, breadcrumbs) and an htmx request
(`HX-Request`, not boosted, not a history restore) with one block of the same template: the
block named by `HX-Target` when it is one of `fragments`, else the first of `fragments`.
So a block and the element it replaces share one name:

    {% block clusters_table %}{% import "macros.html" as ui with context %}
    <div id="clusters_table"> … </div>{% endblock %}
    <a href="{{ url_with(sort='name') }}" hx-get="{{ url_with(sort='name') }}"
       hx-target="#clusters_table" hx-swap="outerHTML" hx-push-url="true">Name</a>

Every answer carries `Vary: HX-Request, HX-Target` and `Cache-Control: no-store`. Navigation
controls (sort, page, filter, tab) push the URL (`hx-push-url="true"`); polling never does.

Template context on console pages: `user` (Principal), `org` (OrgContext), `orgs` (the user's
memberships, for the switcher), `clusters` (the organization's cluster names and
environments), `cluster` (the current one's name or None), `section` (the navigation entry to
mark current: dashboard, clusters, streams, alerts, members, api-keys, channels, audit,
account), `crumbs`,
`csrf_token`, `fragment` (the block being rendered alone, or None), `has_page(path)` (the
navigation shows an entry only once its route exists: `has_page('/orgs/{org}/settings/audit')`),
and two functions:
`can('editor')` — true when the user's role in the organization is at least that one: wrap
every mutation control in `{% if can('editor') %}` (the server still decides; a viewer's forged
POST gets 403 from the access middleware) — and `url_with(**changes)`, the current URL with
query parameters replaced (`None` removes one; changing anything but `page` drops `page`).
These names are taken: pass a page's own data under other names (`registered=`, `streams=`).

Forms. A form posts to a route declaring `opt=access(Access.EDITOR, audit="stream.create")`:
the audit middleware keys on that option for web routes exactly as for API routes, and the
service's `record_change` lands on the same trail. Every form carries
`{{ csrf_field() }}` (htmx requests send the token as a header from `hx-headers` on <body>).
On a domain error re-render the form with what the user typed and `errors=form_errors(exc,
nats_fields, codes)`: `{field: message}`, each message beside the field it concerns
(`extra["field"]` when the service names it, else the field `codes` gives for the error's
code, else for a NATS refusal, shown with NATS' own description from `extra`, the field the
page's `nats_fields` maps its NATS error code to), anything else under `"__all__"`. Answer
such a re-render with status 422 (htmx swaps a 422 like a 200, see base.html's htmx-config;
other 4xx/5xx are not swapped). On success `return see_other(request, url)`: a 303, or
`HX-Redirect` for htmx. `submit_form(request, action, again=, done=)` does all of this for a
form that calls a service and then re-renders or redirects; `read_form(request)` gives the
posted fields as text.

Search: a page's search box is `<input type="search" data-search …>` (`ui.search_form` over a
listed table); `/` focuses it.

Live numbers: a block refreshes itself in place with
`hx-get="{{ url_with() }}" hx-target="this" hx-swap="outerHTML" hx-trigger="{{ LIVE_TRIGGER }}"`:
every 10 s while the tab is visible, and at once when it becomes visible again.

Macros (`templates/macros.html`): a page imports them with `{% import "macros.html" as ui with
context %}` at its top AND again as the first line of each fragment block (a block rendered
alone does not run the template's top level; `with context` lets them use `url_with`):
`ui.sort_header(label, key, sort, target)`, `ui.pager(page, pages, target)`,
`ui.empty_state(title, text, link, label)`,
`ui.field(name, label, value, errors, type, help, required)`, `ui.select(name, label,
options, value, errors, help)`, `ui.form_error(errors)`, `{% call ui.shown_once(id, value,
label) %}what it is{% endcall %}` (a key, link or secret this answer alone shows, to copy),
`ui.post_button(action, label, what, button_class, fields, target)` (a one-button form:
Revoke, Enable…), `ui.confirm_delete(id, action, name, what)` (typed-name confirmation),
`ui.page_link(route, url, label)` (a link once the route exists, else the label),
`{% call(d)
ui.deliveries(rows, heads) %}<td>…{% endcall %}` (notification deliveries with the
caller's columns); globals (services/web/formatting.py, Python: called in every row of a
list) `usage_bar(value, limit, unit, label)`, `when(moment)` (relative time with the exact one
on hover); filters `reltime` (`3m 20s ago`), `bytes` (`1.2 MiB`), `number` (`12,345`),
`duration` (`2h 5m`), `percent`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from jinja2_fragments.litestar import HTMXBlockTemplate
from litestar import Request, Response
from litestar.response import Redirect, Template
from sqlalchemy import select

from services.api.security import session_csrf_token
from services.web.pages import NO_STORE, page
from shared.accounts.models import Membership, Organization
from shared.accounts.principals import OrgContext, Principal
from shared.accounts.roles import Role
from shared.backends import Backends
from shared.clusters.models import Cluster
from shared.db import writes
from shared.errors import Invalid, JetDeckError

T = TypeVar("T")
VARY = {"Vary": "HX-Request, HX-Target"}
# Poll while the tab is visible; refresh at once when it becomes visible again.
LIVE_TRIGGER = (
    "every 10s [document.visibilityState === 'visible'], "
    "visibilitychange[document.visibilityState === 'visible'] from:document"
)
# Who may read each settings page (as the API: members for all, keys, channels and audit for
# admins); the navigation links only those the user may open.
SETTINGS_ACCESS = {
    "members": Role.VIEWER,
    "api-keys": Role.ADMIN,
    "channels": Role.ADMIN,
    "audit": Role.ADMIN,
}
SECTIONS = (
    "dashboard",
    "clusters",
    "streams",
    "alerts",
    "members",
    "api-keys",
    "channels",
    "audit",
    "account",
)


@dataclass(frozen=True)
class Crumb:
    label: str
    url: str | None = None  # None: the current page


@dataclass(frozen=True)
class OrgChoice:
    slug: str
    name: str
    role: Role


@dataclass(frozen=True)
class ClusterChoice:
    name: str
    environment: str | None


def fragment_requested(request: Request[Any, Any, Any], fragments: Sequence[str]) -> str | None:
    """The block an htmx request asks for, or None for the whole page (a normal request, a
    boosted one, a history restore, or a page that declares no fragments)."""
    headers = request.headers
    if not fragments or headers.get("hx-request") != "true":
        return None
    if headers.get("hx-boosted") == "true" or headers.get("hx-history-restore-request"):
        return None
    target = headers.get("hx-target")
    return target if target in fragments else fragments[0]


def url_with(request: Request[Any, Any, Any], **changes: Any) -> str:
    """This page's URL with query parameters replaced; `None` removes one. Changing any
    parameter but `page` returns to the first page."""
    params = dict(request.query_params.items())
    if changes and "page" not in changes:
        params.pop("page", None)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


_PARAM_TYPE = re.compile(r":[a-z]+}")


def page_exists(request: Request[Any, Any, Any], path: str) -> bool:
    """Whether the app serves `path` (a route template like `/orgs/{org}/settings/audit`):
    navigation links a page only once the route that serves it is registered."""
    paths: frozenset[str] | None = getattr(request.app.state, "_console_paths", None)
    if paths is None:
        paths = frozenset(_PARAM_TYPE.sub("}", r.path) for r in request.app.routes)
        request.app.state._console_paths = paths
    return path in paths


def page_number(request: Request[Any, Any, Any]) -> int:
    """The `?page=` asked for (from 1); anything but a number is the first page."""
    try:
        return max(1, int(request.query_params.get("page") or 1))
    except ValueError:
        return 1


def can_function(ctx: OrgContext | None) -> Callable[[str], bool]:
    def can(role: str) -> bool:
        return ctx is not None and ctx.role.at_least(Role(role))

    return can


# The top bar's lists, per (principal, organization): reused for SWITCHERS_TTL seconds while
# this process has written nothing to the database (shared/db/writes.py), so a change made
# here (a cluster registered, a member added) shows on the next page; one made by another
# process shows within the TTL. Every full console page needs them: two queries otherwise.
SWITCHERS_TTL = 5.0
SWITCHERS_MAX = 10_000
Choices = tuple[list[OrgChoice], list[ClusterChoice]]
_choices: dict[tuple[Any, ...], tuple[float, int, Choices]] = {}


def forget_switchers() -> None:
    _choices.clear()


async def switcher_choices(
    backends: Backends, principal: Principal, ctx: OrgContext | None
) -> Choices:
    """The user's organizations and the current organization's clusters, for the top bar.
    An API key sees its one organization. At most SWITCHERS_TTL seconds old, and never
    older than this process's last database write."""
    key: tuple[Any, ...] = (principal.kind, principal.id, principal.user_id, ctx and ctx.org_id)
    if ctx is not None:
        key += (ctx.slug, ctx.name, ctx.role)  # as the request resolved them
    now, written = time.monotonic(), writes.generation()
    cached = _choices.get(key)
    if cached is not None and cached[0] > now and cached[1] == written:
        orgs, clusters = cached[2]
        return list(orgs), list(clusters)
    found = await _query_switchers(backends, principal, ctx)
    if len(_choices) >= SWITCHERS_MAX:
        _choices.clear()  # crude but bounded: entries live seconds
    _choices[key] = (now + SWITCHERS_TTL, written, found)  # the count read before querying
    return list(found[0]), list(found[1])


async def _query_switchers(
    backends: Backends, principal: Principal, ctx: OrgContext | None
) -> Choices:
    assert backends.database is not None
    async with backends.database.session() as session:
        orgs: list[OrgChoice] = []
        if principal.kind == "user" and principal.user_id is not None:
            rows = await session.execute(
                select(Organization.slug, Organization.name, Membership.role)
                .join(Membership, Membership.org_id == Organization.id)
                .where(Membership.user_id == principal.user_id)
                .order_by(Organization.name, Organization.slug)
            )
            orgs = [OrgChoice(slug, name, Role(role)) for slug, name, role in rows]
        elif ctx is not None:
            orgs = [OrgChoice(ctx.slug, ctx.name, ctx.role)]
        clusters: list[ClusterChoice] = []
        if ctx is not None:
            found = await session.execute(
                select(Cluster.name, Cluster.environment)
                .where(Cluster.org_id == ctx.org_id)
                .order_by(Cluster.name)
            )
            clusters = [ClusterChoice(name, env) for name, env in found]
    return orgs, clusters


_SWITCHERS = "console_switchers"


def prefetch_switchers(
    request: Request[Any, Any, Any], backends: Backends, org: OrgContext | None
) -> None:
    """Start the top bar's queries (organizations and clusters) now, so they run while the
    page does its own slow work (a NATS read); `render()` then takes their result. Nothing
    is started for an htmx fragment, which has no top bar."""
    if request.headers.get("hx-request") == "true" and not (
        request.headers.get("hx-boosted") == "true"
        or request.headers.get("hx-history-restore-request")
    ):
        return
    state = request.scope["state"]
    if _SWITCHERS not in state:
        task = asyncio.ensure_future(switcher_choices(backends, state["principal"], org))
        # A page that fails before render() never awaits it: its error is not "unretrieved".
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        state[_SWITCHERS] = task


async def render(
    request: Request[Any, Any, Any],
    backends: Backends,
    template: str,
    *,
    org: OrgContext | None,
    section: str,
    crumbs: Sequence[Crumb] = (),
    cluster: str | None = None,
    fragments: Sequence[str] = (),
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    """A console page, or on htmx one of its `fragments` (see the module docstring)."""
    principal: Principal = request.scope["state"]["principal"]
    block = fragment_requested(request, fragments)
    shared = {
        "org": org,
        "cluster": cluster,
        "section": section,
        "crumbs": list(crumbs),
        "fragment": block,
        "can": can_function(org),
        "url_with": lambda **changes: url_with(request, **changes),
        "has_page": lambda path: page_exists(request, path),
        "settings_sections": lambda: [
            key
            for key, role in SETTINGS_ACCESS.items()
            if page_exists(request, f"/orgs/{{org}}/settings/{key}")
            and org is not None
            and org.role.at_least(role)
        ],
        "LIVE_TRIGGER": LIVE_TRIGGER,
        **context,
    }
    all_headers = {**VARY, **(headers or {})}
    if block is not None:
        started = request.scope["state"].pop(_SWITCHERS, None)
        if started is not None:
            started.cancel()
        return HTMXBlockTemplate(
            template_name=template,
            block_name=block,
            context={"user": principal, "csrf_token": _csrf(backends, principal), **shared},
            status_code=status_code,
            headers={**NO_STORE, **all_headers},
        )
    pending = request.scope["state"].pop(_SWITCHERS, None)
    orgs, clusters = await (pending or switcher_choices(backends, principal, org))
    return page(
        template,
        backends,
        principal,
        status_code=status_code,
        headers=all_headers,
        orgs=orgs,
        clusters=clusters,
        **shared,
    )


def _csrf(backends: Backends, principal: Principal) -> str | None:
    if principal.login_id is None:  # an API key or a bearer token: no session to bind it to
        return None
    return session_csrf_token(backends.settings, principal.login_id)


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted form, each field's value as text."""
    form = await request.form()
    return {str(k): str(v) for k, v in form.items()}


async def require_typed_name(
    request: Request[Any, Any, Any], name: str, message: str, **extra: Any
) -> None:
    """Deleting (or sealing) for good goes ahead only when the user typed `name` in the
    form's `confirm` (ui.confirm_delete asks for it); otherwise a 400 saying `message`."""
    if str((await request.form()).get("confirm") or "").strip() != name:
        raise Invalid(message, code="confirmation_mismatch", extra=extra)


def see_other(request: Request[Any, Any, Any], url: str) -> Response[Any]:
    """After a successful POST: a 303 to `url`, or for htmx `HX-Redirect` (a redirect htmx
    followed itself would swap the next page into the form's target)."""
    if request.headers.get("hx-request") == "true":
        return Response(b"", status_code=204, headers={"HX-Redirect": url, **NO_STORE})
    return Redirect(url, status_code=303, headers=NO_STORE)


def form_errors(
    exc: JetDeckError,
    nats_fields: dict[int, str] | None = None,
    codes: dict[str, str] | None = None,
) -> dict[str, str]:
    """`{field: message}` for a form re-rendered after a domain error, the message beside
    the field it concerns: the one the service names in `extra["field"]`, else the one
    `codes` maps the error's code to (`{"already_member": "email"}`), else for a NATS
    refusal (shown with NATS' description) the one `nats_fields` maps its `nats_err_code`
    to; anything else is the form's own error (`"__all__"`)."""
    field = exc.extra.get("field") or (codes or {}).get(exc.code)
    if not field and nats_fields and "nats_err_code" in exc.extra:
        field = nats_fields.get(int(exc.extra["nats_err_code"]))
    message = str(exc.extra.get("description") or exc.detail)
    return {str(field) if field else "__all__": message}


async def submit_form(
    request: Request[Any, Any, Any],
    action: Callable[[], Awaitable[T]],
    *,
    again: Callable[..., Awaitable[Template]],
    done: str | Callable[[T], str | Awaitable[Template]],
    errors: Callable[[JetDeckError], dict[str, str]] = form_errors,
    catch: type[JetDeckError] | tuple[type[JetDeckError], ...] = JetDeckError,
) -> Response[Any] | Template:
    """A form's POST as the Forms convention has it. `action()` reads what was typed and
    calls the service; a domain error (`catch`) re-renders the form with
    `again(errors=errors(exc), status_code=422)` (`again` carries what the user typed, e.g. a
    `functools.partial` of the page's render); on success `see_other()` to `done`: a URL, or
    a function of what `action` returned that gives the URL or, for a page that shows
    something once, the page itself."""
    try:
        result = await action()
    except catch as exc:
        return await again(errors=errors(exc), status_code=422)
    answer = done if isinstance(done, str) else done(result)
    return see_other(request, answer) if isinstance(answer, str) else await answer


def org_url(slug: str, *parts: str) -> str:
    return "/".join([f"/orgs/{slug}", *parts])


__all__ = [
    "LIVE_TRIGGER",
    "SECTIONS",
    "ClusterChoice",
    "Crumb",
    "OrgChoice",
    "forget_switchers",
    "form_errors",
    "fragment_requested",
    "org_url",
    "page_number",
    "prefetch_switchers",
    "read_form",
    "render",
    "require_typed_name",
    "see_other",
    "submit_form",
    "url_with",
]
