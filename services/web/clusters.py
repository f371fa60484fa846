"""Clusters in the console: the list, the register form (with "Test connection" before
saving), the natscli context import, the edit form, collection on/off, deletion, and the
cluster page (servers, meta leader and peers, account usage against limits).

The forms post multipart (PEM and creds files may be uploaded instead of pasted). Every input
is named after the API field it fills (`auth.password`, `tls.ca_pem`), so a domain error that
names its field (`extra["field"]`) shows beside that input. Secrets are never sent back to the
browser: a re-rendered form leaves them empty, and the edit form says which are set (left
empty, a secret keeps its stored value).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from services.access import Access, access
from services.web.console import (
    Crumb,
    form_errors,
    org_url,
    render,
    require_typed_name,
    see_other,
    submit_form,
)
from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.clusters import services as clusters
from shared.clusters.schemas import ClusterIn, ClusterOut, ClusterPatch, ContextImport
from shared.errors import Invalid, JetDeckError
from shared.metrics.dashboard import cluster_health

AUTH_TYPES = (
    ("none", "None"),
    ("user_password", "User and password"),
    ("token", "Token"),
    ("nkey", "NKey seed"),
    ("creds", "Credentials file (.creds)"),
)
AUTH_SECRETS = ("password", "token", "seed", "creds")
# Inputs a file may fill instead of the textarea (`<name>_file`).
FILE_FIELDS = ("auth.creds", "system_auth.creds", "tls.ca_pem", "tls.cert_pem", "tls.key_pem")
SECRET_INPUTS = frozenset(
    [f"{a}.{s}" for a in ("auth", "system_auth") for s in AUTH_SECRETS] + ["tls.key_pem"]
)
CONTEXT_FILE_KEYS = ("creds", "nkey", "cert", "key", "ca")
TEST_EXEMPT = "connects and reports; stores nothing"
_AT = re.compile(r"at `\$\.([^`]+)`")


@dataclass
class ClusterForm:
    """What the user typed (secrets included, for this request only) and what goes back."""

    values: dict[str, str] = field(default_factory=dict)
    checks: set[str] = field(default_factory=set)

    @classmethod
    async def read(cls, request: Request[Any, Any, Any]) -> ClusterForm:
        form = await request.form()
        found = cls()
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                continue
            if value == "on":
                found.checks.add(key)
            found.values[key] = str(value).replace("\r\n", "\n")
        for name in FILE_FIELDS:
            upload = form.get(f"{name}_file")
            if isinstance(upload, UploadFile) and upload.filename:
                content = (await upload.read()).decode("utf-8", "replace")
                if content.strip():
                    found.values[name] = content
        return found

    def get(self, name: str) -> str | None:
        value = self.values.get(name, "").strip()
        return value or None

    def echo(self) -> dict[str, str]:
        """What the form shows again: everything typed but secrets."""
        return {k: v for k, v in self.values.items() if k not in SECRET_INPUTS}

    def servers(self) -> list[str] | None:
        text = self.values.get("servers", "")
        found = [s.strip() for s in re.split(r"[\s,]+", text) if s.strip()]
        return found or None

    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        for number, line in enumerate(self.values.get("labels", "").splitlines(), 1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise Invalid(f"Label line {number}: write key=value", extra={"field": "labels"})
            labels[key.strip()] = value.strip()
        return labels

    def auth(self, prefix: str) -> dict[str, Any] | None:
        kind = self.get(f"{prefix}.type")
        if kind is None:
            return None
        auth: dict[str, Any] = {"type": kind}
        if kind == "user_password":
            auth["username"] = self.get(f"{prefix}.username")
        needed = {"user_password": "password", "token": "token", "nkey": "seed", "creds": "creds"}
        secret = needed.get(kind)
        if secret and self.get(f"{prefix}.{secret}"):
            auth[secret] = self.get(f"{prefix}.{secret}")
        return auth

    def tls(self, patch: bool) -> dict[str, Any] | None:
        if patch and "tls.remove" in self.checks:
            return {}
        tls: dict[str, Any] = {
            k: self.get(f"tls.{k}")
            for k in ("ca_pem", "cert_pem", "key_pem")
            if self.get(f"tls.{k}")
        }
        if "tls.handshake_first" in self.checks:
            tls["handshake_first"] = True
        elif patch and self.get("tls.was_set"):
            tls["handshake_first"] = False
        if not tls:
            return None
        return tls

    def cluster_in(self) -> ClusterIn:
        body: dict[str, Any] = {
            "name": self.get("name") or "",
            "servers": self.servers() or [],
            "auth": self.auth("auth") or {"type": "none"},
            "tls": self.tls(patch=False),
            "environment": self.get("environment"),
            "labels": self.labels(),
            "enabled": "enabled" in self.checks,
        }
        system = self.auth("system_auth")
        if system and system["type"] != "none":
            body["system_auth"] = system
        return _convert(body, ClusterIn)

    def cluster_patch(self, current: ClusterOut) -> ClusterPatch:
        system = self.auth("system_auth") or {"type": "none"}
        body: dict[str, Any] = {
            "name": self.get("name") or "",
            "servers": self.servers() or [],
            "auth": self.auth("auth") or {"type": "none"},
            "environment": self.get("environment") or "",
            "labels": self.labels(),
        }
        if system["type"] != "none" or current.system_auth is not None:
            body["system_auth"] = system
        tls = self.tls(patch=True)
        if tls is not None and (tls or current.tls is not None):
            body["tls"] = tls
        return _convert(body, ClusterPatch)


def _convert(body: dict[str, Any], kind: type[Any]) -> Any:
    try:
        return msgspec.convert(body, kind)
    except msgspec.ValidationError as exc:
        match = _AT.search(str(exc))
        where = re.sub(r"\[\d+\]", "", match.group(1)) if match else None
        message = _AT.sub("", str(exc)).rstrip(" -")
        raise Invalid(
            f"{where or 'form'}: {message}", code="invalid", extra={"field": where} if where else {}
        ) from None


def _errors(exc: JetDeckError) -> dict[str, str]:
    """Errors beside their inputs: `servers[1]` shows beside the servers box."""
    errors = form_errors(exc)
    return {re.sub(r"\[\d+\]$", "", k): v for k, v in errors.items()}


def _form_defaults(out: ClusterOut | None) -> dict[str, str]:
    if out is None:
        return {"auth.type": "none", "system_auth.type": "none", "enabled": "on"}
    values = {
        "name": out.name,
        "servers": "\n".join(out.servers),
        "environment": out.environment or "",
        "labels": "\n".join(f"{k}={v}" for k, v in out.labels.items()),
        "auth.type": out.auth.type,
        "auth.username": out.auth.username or "",
        "system_auth.type": out.system_auth.type if out.system_auth else "none",
        "system_auth.username": (out.system_auth.username or "") if out.system_auth else "",
    }
    if out.tls:
        values |= {
            "tls.ca_pem": out.tls.ca_pem or "",
            "tls.cert_pem": out.tls.cert_pem or "",
            "tls.was_set": "1",
        }
        if out.tls.handshake_first:
            values["tls.handshake_first"] = "on"
    return values


def _secrets_set(out: ClusterOut | None) -> set[str]:
    """The secret inputs of the edit form that have a stored value ("set")."""
    if out is None:
        return set()
    found = set()
    for prefix, auth in (("auth", out.auth), ("system_auth", out.system_auth)):
        if auth is not None:
            found |= {f"{prefix}.{k}" for k in AUTH_SECRETS if getattr(auth, f"{k}_set")}
    if out.tls and out.tls.key_pem_set:
        found.add("tls.key_pem")
    return found


async def _form_page(
    request: Request[Any, Any, Any],
    backends: Backends,
    ctx: OrgContext,
    *,
    current: ClusterOut | None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    result: Any = None,
    status_code: int = 200,
) -> Template:
    base = org_url(ctx.slug, "clusters")
    if current is None:
        crumbs = [Crumb("Clusters", base), Crumb("Register")]
        action = f"{base}/new"
    else:
        here = f"{base}/{current.name}"
        crumbs = [Crumb("Clusters", base), Crumb(current.name, here), Crumb("Edit")]
        action = f"{here}/edit"
    return await render(
        request,
        backends,
        "cluster_form.html",
        org=ctx,
        section="clusters",
        cluster=current.name if current else None,
        crumbs=crumbs,
        fragments=("connection_test",),
        status_code=status_code,
        current=current,
        action=action,
        values=(values := values if values is not None else _form_defaults(current)),
        secrets_set=_secrets_set(current),
        # TLS folds away unless something of it is set, typed or refused.
        tls_open=bool(current and current.tls)
        or any(k.startswith("tls.") and values.get(k) for k in values)
        or any(k.startswith("tls.") for k in errors or {}),
        errors=errors or {},
        result=result,
        auth_types=AUTH_TYPES,
    )


@get("/orgs/{org:str}/clusters", opt=access(Access.VIEWER))
async def clusters_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    """Name, environment, labels, servers, whether it is collected and what the latest
    collection found (reachable, servers up, when: one query of the samples); admins
    register, import, and switch collection on or off from here."""
    listing = await clusters.list_clusters(backends, org_context)
    return await render(
        request,
        backends,
        "clusters.html",
        health=await cluster_health(backends, org_context),
        org=org_context,
        section="clusters",
        crumbs=[Crumb("Clusters")],
        fragments=("clusters_table",),
        registered=listing.items,
    )


@get("/orgs/{org:str}/clusters/new", opt=access(Access.ADMIN))
async def register_form(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    return await _form_page(request, backends, org_context, current=None)


@post("/orgs/{org:str}/clusters/new", opt=access(Access.ADMIN, audit="cluster.create"))
async def register(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    form = await ClusterForm.read(request)
    return await submit_form(
        request,
        lambda: clusters.register_cluster(backends, org_context, form.cluster_in()),
        again=partial(_form_page, request, backends, org_context, current=None, values=form.echo()),
        done=lambda out: org_url(org_context.slug, "clusters", out.name),
        errors=_errors,
    )


@post(
    "/orgs/{org:str}/clusters/new/test",
    status_code=200,
    opt=access(Access.ADMIN, audit_exempt=TEST_EXEMPT),
)
async def register_test(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    """The register form's "Test connection": the configuration typed, not saved. htmx gets
    the `connection_test` block alone; without JavaScript the form comes back with it."""
    form = await ClusterForm.read(request)
    again = partial(_form_page, request, backends, org_context, current=None, values=form.echo())
    return await submit_form(
        request,
        lambda: clusters.test_candidate(backends, org_context, form.cluster_in()),
        again=again,
        done=lambda result: again(result=result),
        errors=_errors,
    )


@get("/orgs/{org:str}/clusters/import", opt=access(Access.ADMIN))
async def import_form(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    return await _import_page(request, backends, org_context)


async def _import_page(
    request: Request[Any, Any, Any],
    backends: Backends,
    ctx: OrgContext,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    base = org_url(ctx.slug, "clusters")
    return await render(
        request,
        backends,
        "cluster_import.html",
        org=ctx,
        section="clusters",
        crumbs=[Crumb("Clusters", base), Crumb("Import a natscli context")],
        status_code=status_code,
        values=values or {},
        errors=errors or {},
        file_keys=CONTEXT_FILE_KEYS,
    )


@post("/orgs/{org:str}/clusters/import", opt=access(Access.ADMIN, audit="cluster.import"))
async def import_context(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    """The context's JSON pasted (or its file uploaded), and the files it names uploaded:
    each upload is keyed by the path the context writes for it."""
    form = await request.form()
    values = {
        k: str(v)
        for k, v in form.multi_items()
        if not isinstance(v, UploadFile) and k != "csrf_token"
    }

    async def imported() -> ClusterOut:
        text = values.get("context", "").strip()
        upload = form.get("context_file")
        if isinstance(upload, UploadFile) and upload.filename:
            text = (await upload.read()).decode("utf-8", "replace").strip() or text
        try:
            context = json.loads(text)
        except ValueError:
            raise Invalid(
                "Paste the context's JSON (~/.config/nats/context/NAME.json)",
                code="invalid_context",
                extra={"field": "context"},
            ) from None
        if not isinstance(context, dict):
            raise Invalid(
                "The context is a JSON object", code="invalid_context", extra={"field": "context"}
            )
        files: dict[str, str] = {}
        for key in CONTEXT_FILE_KEYS:
            file = form.get(f"file_{key}")
            path = context.get(key)
            if isinstance(file, UploadFile) and file.filename and path:
                files[str(path)] = (await file.read()).decode("utf-8", "replace")
        data = _convert(
            {
                "name": values.get("name", "").strip(),
                "context": context,
                "files": files,
                "environment": values.get("environment", "").strip() or None,
            },
            ContextImport,
        )
        return await clusters.import_context(backends, org_context, data)

    return await submit_form(
        request,
        imported,
        again=partial(_import_page, request, backends, org_context, values=values),
        done=lambda out: org_url(org_context.slug, "clusters", out.name),
        errors=_import_errors,
    )


def _import_errors(exc: JetDeckError) -> dict[str, str]:
    """An error about a file the context names shows beside that file's upload."""
    if "context_field" in exc.extra or exc.code == "context_file_missing":
        return {f"file_{exc.extra.get('context_field') or exc.extra.get('field')}": exc.detail}
    return form_errors(exc)


@get("/orgs/{org:str}/clusters/{cluster:str}", opt=access(Access.VIEWER))
async def cluster_page(
    request: Request[Any, Any, Any],
    cluster: FromPath[str],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    """Servers (name, version, RTT, memory, connections…), the meta leader and its peers, and the
    account's JetStream usage against its limits (the overview service: `$SYS` when system
    credentials are set). An unreachable cluster shows why. `cluster_live` refreshes itself;
    the block `cluster_charts` is where the cluster's charts go."""
    out = await clusters.get_cluster(backends, org_context, cluster)
    overview, problem = None, None
    try:
        overview = await clusters.cluster_overview(backends, org_context, cluster)
    except JetDeckError as exc:
        problem = {"code": exc.code, "detail": exc.detail}
    base = org_url(org_context.slug, "clusters")
    return await render(
        request,
        backends,
        "cluster.html",
        org=org_context,
        section="clusters",
        cluster=out.name,
        crumbs=[Crumb("Clusters", base), Crumb(out.name)],
        fragments=("cluster_live",),
        current=out,
        overview=overview,
        problem=problem,
    )


@get("/orgs/{org:str}/clusters/{cluster:str}/edit", opt=access(Access.ADMIN))
async def edit_form(
    request: Request[Any, Any, Any],
    cluster: FromPath[str],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    current = await clusters.get_cluster(backends, org_context, cluster)
    return await _form_page(request, backends, org_context, current=current)


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/edit", opt=access(Access.ADMIN, audit="cluster.update")
)
async def edit(
    request: Request[Any, Any, Any],
    cluster: FromPath[str],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    current = await clusters.get_cluster(backends, org_context, cluster)
    form = await ClusterForm.read(request)
    return await submit_form(
        request,
        lambda: clusters.update_cluster(
            backends, org_context, cluster, form.cluster_patch(current)
        ),
        again=partial(
            _form_page, request, backends, org_context, current=current, values=form.echo()
        ),
        done=lambda out: org_url(org_context.slug, "clusters", out.name),
        errors=_errors,
    )


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/edit/test",
    status_code=200,
    opt=access(Access.ADMIN, audit_exempt=TEST_EXEMPT),
)
async def edit_test(
    request: Request[Any, Any, Any],
    cluster: FromPath[str],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    """The edit form's "Test connection": the change typed, with the stored secrets for
    those left empty, not saved."""
    current = await clusters.get_cluster(backends, org_context, cluster)
    form = await ClusterForm.read(request)
    again = partial(_form_page, request, backends, org_context, current=current, values=form.echo())
    return await submit_form(
        request,
        lambda: clusters.test_candidate(
            backends, org_context, form.cluster_patch(current), based_on=cluster
        ),
        again=again,
        done=lambda result: again(result=result),
        errors=_errors,
    )


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/collection",
    opt=access(Access.ADMIN, audit="cluster.update"),
)
async def set_collection(
    request: Request[Any, Any, Any],
    cluster: FromPath[str],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any]:
    """Collection on (`enabled=on`) or off; back to the page the button was on."""
    form = await request.form()
    enabled = form.get("enabled") == "on"
    await clusters.update_cluster(backends, org_context, cluster, ClusterPatch(enabled=enabled))
    back = str(form.get("back") or "")
    base = org_url(org_context.slug, "clusters")
    return see_other(request, back if back in (base, f"{base}/{cluster}") else base)


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/delete",
    opt=access(Access.ADMIN, audit="cluster.delete"),
)
async def delete(
    request: Request[Any, Any, Any],
    cluster: FromPath[str],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any]:
    """Deleted only when `confirm` is the cluster's name (typed by the user)."""
    message = f"Type the cluster's name ({cluster}) to delete it."
    await require_typed_name(request, cluster, message, field="confirm")
    await clusters.delete_cluster(backends, org_context, cluster)
    return see_other(request, org_url(org_context.slug, "clusters"))


HANDLERS = [
    clusters_page,
    register_form,
    register,
    register_test,
    import_form,
    import_context,
    cluster_page,
    edit_form,
    edit,
    edit_test,
    set_collection,
    delete,
]
