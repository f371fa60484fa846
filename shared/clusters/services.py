"""Register, read, change and remove clusters; reach them through the NATS gateway."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.accounts.principals import OrgContext
from shared.accounts.schemas import Page
from shared.audit import record_change
from shared.backends import Backends
from shared.clusters.models import Cluster
from shared.clusters.schemas import (
    AuthIn,
    AuthOut,
    ClusterIn,
    ClusterOut,
    ClusterPatch,
    ConnectionTest,
    ContextImport,
    Overview,
    TlsIn,
    TlsOut,
    TlsPatch,
    check_auth,
    check_tls,
)
from shared.crypto import decrypt_json, encrypt_json
from shared.db import Database
from shared.errors import Conflict, Invalid, JetDeckError, NotFound, Unavailable
from shared.metrics.reports import jsz_decoder
from shared.nats import Auth, ClusterClient, ConnectionSpec, Tls
from shared.nats.connection import creds_file
from shared.nats.gateway import server_info
from shared.nats.system import ping

SECRET_FIELDS = ("password", "token", "seed", "creds")
TLS_FIELDS = ("ca_pem", "cert_pem", "key_pem", "handshake_first")
REQUIRED = {
    "user_password": ("username", "password"),
    "token": ("token",),
    "nkey": ("seed",),
    "creds": ("creds",),
    "none": (),
}


def _db(backends: Backends) -> Database:
    if backends.database is None:
        raise Unavailable("The database is not configured.", code="database_unavailable")
    return backends.database


def _split_auth(
    auth: AuthIn, field: str, kept: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain part, secret part) of an auth, keeping stored secrets a same-type patch omits.
    A secret given is checked (`field` names the auth in an error); a kept one was already."""
    check_auth(auth, field)
    plain = {"type": auth.type, "username": auth.username if auth.type == "user_password" else None}
    secrets = {k: getattr(auth, k) for k in SECRET_FIELDS if getattr(auth, k)}
    if kept and kept.get("type") == auth.type:
        secrets = {**{k: v for k, v in kept.items() if k in SECRET_FIELDS}, **secrets}
    secrets = {k: v for k, v in secrets.items() if k in REQUIRED[auth.type]}
    missing = [k for k in REQUIRED[auth.type] if not (plain.get(k) or secrets.get(k))]
    if missing:
        raise Invalid(
            f"Auth type {auth.type!r} needs {', '.join(missing)}",
            code="invalid_auth",
            extra={"missing": missing},
        )
    return plain, {"type": auth.type, **secrets}


def _auth_out(plain: dict[str, Any] | None, secret: dict[str, Any]) -> AuthOut | None:
    if plain is None:
        return None
    return AuthOut(
        type=plain["type"],
        username=plain.get("username"),
        **{f"{k}_set": bool(secret.get(k)) for k in SECRET_FIELDS},
    )


def to_out(cluster: Cluster, secrets: dict[str, Any]) -> ClusterOut:
    tls = cluster.tls
    return ClusterOut(
        id=cluster.id,
        name=cluster.name,
        servers=list(cluster.servers),
        auth=_auth_out(cluster.auth, secrets.get("auth", {})) or AuthOut(type="none"),
        tls=TlsOut(
            ca_pem=tls.get("ca_pem"),
            cert_pem=tls.get("cert_pem"),
            key_pem_set=bool(secrets.get("tls", {}).get("key_pem")),
            handshake_first=bool(tls.get("handshake_first")),
        )
        if tls
        else None,
        system_auth=_auth_out(cluster.system_auth, secrets.get("system_auth", {})),
        environment=cluster.environment,
        labels=dict(cluster.labels or {}),
        enabled=cluster.enabled,
        created_at=cluster.created_at,
        updated_at=cluster.updated_at,
    )


def _public(out: ClusterOut) -> dict[str, Any]:
    """What the audit trail records: the response shape (no secrets in it)."""
    data: dict[str, Any] = msgspec.to_builtins(out)
    data.pop("created_at", None)
    data.pop("updated_at", None)
    return data


def _apply(
    cluster: Cluster,
    secrets: dict[str, Any],
    *,
    servers: list[str] | None,
    auth: AuthIn | None,
    tls: TlsIn | TlsPatch | None,
    system_auth: AuthIn | None,
) -> dict[str, Any]:
    secrets = dict(secrets)
    if servers is not None:
        cluster.servers = list(servers)
    if auth is not None:
        cluster.auth, secrets["auth"] = _split_auth(auth, "auth", secrets.get("auth"))
    if system_auth is not None:
        if system_auth.type == "none":
            cluster.system_auth, _ = None, secrets.pop("system_auth", None)
        else:
            cluster.system_auth, secrets["system_auth"] = _split_auth(
                system_auth, "system_auth", secrets.get("system_auth")
            )
    if tls is not None:
        # A field not given (null) keeps the stored value; nothing given (`tls: {}`) removes.
        given = {f: value for f in TLS_FIELDS if (value := getattr(tls, f)) is not None}
        stored = {**(cluster.tls or {}), "key_pem": secrets.get("tls", {}).get("key_pem")}
        merged = {**stored, **given} if given else {}
        if not any(merged.get(f) for f in TLS_FIELDS):
            cluster.tls, _ = None, secrets.pop("tls", None)
        else:
            if bool(merged.get("cert_pem")) != bool(merged.get("key_pem")):
                raise Invalid(
                    "A TLS client certificate needs its key, and a key its certificate",
                    code="invalid_tls",
                )
            check_tls(given, merged)
            cluster.tls = {
                "ca_pem": merged.get("ca_pem"),
                "cert_pem": merged.get("cert_pem"),
                "handshake_first": bool(merged.get("handshake_first")),
            }
            key = merged.get("key_pem")
            secrets["tls"] = {"key_pem": key} if key else {}
    return secrets


async def _load(session: AsyncSession, org_id: uuid.UUID, name: str) -> Cluster:
    cluster = await session.scalar(
        select(Cluster).where(Cluster.org_id == org_id, Cluster.name == name)
    )
    if cluster is None:
        raise NotFound(
            f"No cluster named {name!r} in this organization",
            code="cluster_not_found",
            extra={"cluster": name},
        )
    return cluster


async def _name_free(session: AsyncSession, org_id: uuid.UUID, name: str) -> None:
    taken = await session.scalar(
        select(Cluster.id).where(Cluster.org_id == org_id, Cluster.name == name)
    )
    if taken is not None:
        raise Conflict(
            f"A cluster named {name!r} already exists",
            code="cluster_name_in_use",
            extra={"cluster": name},
        )


async def register_cluster(backends: Backends, ctx: OrgContext, data: ClusterIn) -> ClusterOut:
    settings = backends.settings
    async with _db(backends).session() as session:
        await _name_free(session, ctx.org_id, data.name)
        cluster = Cluster(
            org_id=ctx.org_id,
            name=data.name,
            servers=[],
            auth={},
            environment=data.environment,
            labels=dict(data.labels),
            enabled=data.enabled,
        )
        secrets = _apply(
            cluster,
            {},
            servers=data.servers,
            auth=data.auth,
            tls=data.tls,
            system_auth=data.system_auth,
        )
        cluster.secrets = encrypt_json(settings, secrets)
        session.add(cluster)
        await session.flush()
        out = to_out(cluster, secrets)
    record_change(f"cluster:{data.name}", None, _public(out))
    return out


async def list_clusters(backends: Backends, ctx: OrgContext) -> Page[ClusterOut]:
    async with _db(backends).session() as session:
        rows = (
            await session.scalars(
                select(Cluster).where(Cluster.org_id == ctx.org_id).order_by(Cluster.name)
            )
        ).all()
        items = [to_out(c, decrypt_json(backends.settings, c.secrets)) for c in rows]
    return Page(items=items, total=len(items))


async def get_cluster(backends: Backends, ctx: OrgContext, name: str) -> ClusterOut:
    async with _db(backends).session() as session:
        cluster = await _load(session, ctx.org_id, name)
        return to_out(cluster, decrypt_json(backends.settings, cluster.secrets))


async def update_cluster(
    backends: Backends, ctx: OrgContext, name: str, patch: ClusterPatch
) -> ClusterOut:
    settings = backends.settings
    async with _db(backends).session() as session:
        cluster = await _load(session, ctx.org_id, name)
        stored = decrypt_json(settings, cluster.secrets)
        before = _public(to_out(cluster, stored))
        if patch.name is not None and patch.name != cluster.name:
            await _name_free(session, ctx.org_id, patch.name)
            cluster.name = patch.name
        if patch.environment is not None:
            cluster.environment = patch.environment or None
        if patch.labels is not None:
            cluster.labels = dict(patch.labels)
        if patch.enabled is not None:
            cluster.enabled = patch.enabled
        secrets = _apply(
            cluster,
            stored,
            servers=patch.servers,
            auth=patch.auth,
            tls=patch.tls,
            system_auth=patch.system_auth,
        )
        cluster.secrets = encrypt_json(settings, secrets)
        await session.flush()
        await session.refresh(cluster)
        out = to_out(cluster, secrets)
        cluster_id = cluster.id
    record_change(f"cluster:{out.name}", before, _public(out))
    for suffix in ("", ":system"):  # the next request reconnects with the new settings
        await backends.nats.forget(f"{cluster_id}{suffix}")
    return out


async def delete_cluster(backends: Backends, ctx: OrgContext, name: str) -> None:
    async with _db(backends).session() as session:
        cluster = await _load(session, ctx.org_id, name)
        before = _public(to_out(cluster, decrypt_json(backends.settings, cluster.secrets)))
        cluster_id = cluster.id
        await session.delete(cluster)
    record_change(f"cluster:{name}", before, None)
    for suffix in ("", ":system"):
        await backends.nats.forget(f"{cluster_id}{suffix}")


def _auth(plain: dict[str, Any], secret: dict[str, Any]) -> Auth:
    return Auth(
        kind=plain["type"],
        username=plain.get("username"),
        password=secret.get("password"),
        token=secret.get("token"),
        nkey_seed=secret.get("seed"),
        creds=secret.get("creds"),
    )


def connection_spec(
    cluster: Cluster, secrets: dict[str, Any], *, system: bool = False
) -> ConnectionSpec:
    tls = None
    if cluster.tls:
        tls = Tls(
            ca_pem=cluster.tls.get("ca_pem"),
            cert_pem=cluster.tls.get("cert_pem"),
            key_pem=secrets.get("tls", {}).get("key_pem"),
            handshake_first=bool(cluster.tls.get("handshake_first")),
        )
    if system:
        assert cluster.system_auth is not None
        auth = _auth(cluster.system_auth, secrets.get("system_auth", {}))
    else:
        auth = _auth(cluster.auth, secrets.get("auth", {}))
    return ConnectionSpec(
        servers=tuple(cluster.servers),
        auth=auth,
        tls=tls,
        name=f"jetdeck:{cluster.name}{':system' if system else ''}",
    )


async def load_cluster(
    backends: Backends, org_id: uuid.UUID, name: str
) -> tuple[Cluster, dict[str, Any]]:
    async with _db(backends).session() as session:
        cluster = await _load(session, org_id, name)
    return cluster, decrypt_json(backends.settings, cluster.secrets)


async def cluster_client(backends: Backends, ctx: OrgContext, name: str) -> ClusterClient:
    """The pooled connection to the organization's cluster `name` (404 when unknown)."""
    cluster, secrets = await load_cluster(backends, ctx.org_id, name)
    return await backends.nats.client(
        str(cluster.id), connection_spec(cluster, secrets), label=cluster.name
    )


async def test_cluster(backends: Backends, ctx: OrgContext, name: str) -> ConnectionTest:
    """Connect afresh (not through the pool) and report version, RTT and JetStream account
    info, or exactly why it failed: DNS, refused, auth, TLS, no JetStream, timeout."""
    cluster, secrets = await load_cluster(backends, ctx.org_id, name)
    try:
        nc = await backends.nats.connect(connection_spec(cluster, secrets), cluster.name)
    except JetDeckError as exc:
        return ConnectionTest(ok=False, error={"code": exc.code, "detail": exc.detail})
    client = ClusterClient(cluster.name, nc, backends.nats.timeout)
    try:
        started = time.perf_counter()
        await nc.flush(timeout=int(backends.nats.timeout) or 1)
        rtt_ms = round((time.perf_counter() - started) * 1000, 3)
        version = str(server_info(nc).get("version") or "") or None
        try:
            info = await client.js("INFO")
        except JetDeckError as exc:
            return ConnectionTest(
                ok=False,
                server_version=version,
                rtt_ms=rtt_ms,
                error={
                    "code": exc.code,
                    "detail": exc.detail,
                    **(
                        {"nats_err_code": exc.extra["nats_err_code"]}
                        if "nats_err_code" in exc.extra
                        else {}
                    ),
                },
            )
        info.pop("type", None)
        return ConnectionTest(ok=True, server_version=version, rtt_ms=rtt_ms, jetstream=info)
    finally:
        await client.close()


# Seconds the overview waits for servers without JetStream after the last reply.
OVERVIEW_LINGER = 0.1


async def cluster_overview(backends: Backends, ctx: OrgContext, name: str) -> Overview:
    """Servers, JetStream usage against the account's limits, the meta leader and peers: from
    `$SYS` (every server) when system credentials are set, else what the account can see."""
    cluster, secrets = await load_cluster(backends, ctx.org_id, name)
    client = await backends.nats.client(
        str(cluster.id), connection_spec(cluster, secrets), label=cluster.name
    )
    account = await client.js("INFO")
    account.pop("type", None)
    usage = {
        "memory": account.get("memory"),
        "storage": account.get("storage"),
        "streams": account.get("streams"),
        "consumers": account.get("consumers"),
    }
    jetstream = {
        "usage": usage,
        "limits": account.get("limits") or {},
        "api": account.get("api") or {},
        "domain": account.get("domain"),
    }
    if cluster.system_auth is None:
        info = client.server_info
        server = {
            k: info.get(k)
            for k in ("server_name", "server_id", "version", "cluster", "jetstream", "host", "port")
        }
        server["connect_urls"] = info.get("connect_urls") or []
        return Overview(
            source="account",
            servers=[server],
            jetstream=jetstream,
            meta=None,
            notes=["Add system-account credentials to see every server and the meta cluster."],
        )
    system = await backends.nats.client(
        f"{cluster.id}:system", connection_spec(cluster, secrets, system=True), label=cluster.name
    )
    # Both rounds at once, each over as soon as every server answered.
    varz_replies, jsz_replies = await asyncio.gather(
        # Servers without JetStream answer VARZ too, and no reply says how many there are:
        # wait a moment for them after the JetStream servers.
        ping(system, "VARZ", timeout=backends.nats.timeout, linger=OVERVIEW_LINGER),
        ping(system, "JSZ", timeout=backends.nats.timeout),
    )
    varz = [json.loads(r.payload) for r in varz_replies]
    jsz = [jsz_decoder.decode(r.payload) for r in jsz_replies]  # the collector's structs
    servers = []
    for reply in sorted(varz, key=lambda r: str(r.get("server", {}).get("name"))):
        data, srv = reply.get("data") or {}, reply.get("server") or {}
        servers.append(
            {
                "name": srv.get("name"),
                "id": srv.get("id"),
                "version": data.get("version"),
                "cluster": srv.get("cluster"),
                "host": data.get("host"),
                "port": data.get("port"),
                "connections": data.get("connections"),
                "mem": data.get("mem"),
                "cpu": data.get("cpu"),
                "uptime": data.get("uptime"),
                "jetstream": bool(srv.get("jetstream")),
                "slow_consumers": data.get("slow_consumers"),
            }
        )
    meta = None
    for reply in jsz:
        meta_cluster = reply.data.meta_cluster if reply.data else None
        if meta_cluster and meta_cluster.leader:
            meta = {
                "name": meta_cluster.name,
                "leader": meta_cluster.leader,
                "size": meta_cluster.cluster_size,
                "peers": msgspec.to_builtins(meta_cluster.replicas or []),
            }
            if reply.server.name == meta_cluster.leader:
                break  # the meta leader's reply alone lists the peers
    return Overview(source="system", servers=servers, jetstream=jetstream, meta=meta)


def context_to_cluster(data: ContextImport) -> ClusterIn:
    """A natscli context (url, user/password, token, creds, nkey, cert/key/ca, tls_first) as
    a cluster registration; the files it names must be given in `files`."""
    context = data.context

    def file(key: str) -> str | None:
        path = context.get(key)
        if not path:
            return None
        if path not in data.files:
            raise Invalid(
                f"The context names {key} file {path!r}: include its content in files",
                code="context_file_missing",
                extra={"path": path, "field": key},
            )
        return data.files[path]

    # Settings JetDeck cannot honour are refused rather than dropped: a cluster that answers
    # on another JetStream domain or only through a proxy would look empty or unreachable.
    unsupported = [key for key in _CONTEXT_UNSUPPORTED if context.get(key)]
    if unsupported:
        raise Invalid(
            f"The context uses {', '.join(unsupported)}, which JetDeck does not support: "
            "register the cluster with the API instead"
            + (
                " (for nsc, export a creds file with `nsc generate creds`)"
                if "nsc" in unsupported
                else ""
            ),
            code="context_unsupported",
            extra={"fields": unsupported},
        )
    url = str(context.get("url") or "nats://127.0.0.1:4222")
    servers = [
        u.strip() if "://" in u else f"nats://{u.strip()}" for u in url.split(",") if u.strip()
    ]
    if context.get("creds"):
        auth = AuthIn(type="creds", creds=file("creds"))
    elif context.get("user_jwt") and context.get("nkey"):
        # A user JWT with its seed (natscli's --user-jwt and --nkey) is what a creds file holds.
        auth = AuthIn(type="creds", creds=creds_file(str(context["user_jwt"]), file("nkey") or ""))
    elif context.get("nkey"):
        auth = AuthIn(type="nkey", seed=(file("nkey") or "").strip())
    elif context.get("token"):
        auth = AuthIn(type="token", token=str(context["token"]))
    elif context.get("user"):
        auth = AuthIn(
            type="user_password",
            username=str(context["user"]),
            password=str(context.get("password") or "") or None,
        )
    else:
        auth = AuthIn()
    tls = None
    if context.get("ca") or context.get("cert") or context.get("tls_first"):
        tls = TlsIn(
            ca_pem=file("ca"),
            cert_pem=file("cert"),
            key_pem=file("key"),
            handshake_first=bool(context.get("tls_first")),
        )
    try:
        return msgspec.convert(
            {
                "name": data.name,
                "servers": servers,
                "auth": msgspec.to_builtins(auth),
                "tls": msgspec.to_builtins(tls) if tls else None,
                "environment": data.environment,
                "labels": {"imported_from": "natscli"},
            },
            ClusterIn,
        )
    except msgspec.ValidationError as exc:
        raise Invalid(f"The context is not usable: {exc}", code="invalid_context") from None


# natscli context settings with no JetDeck equivalent.
_CONTEXT_UNSUPPORTED = ("nsc", "jetstream_domain", "jetstream_api_prefix", "socks_proxy")

# The context key naming the file each checked registration field is read from.
_CONTEXT_FILES = {
    "auth.seed": "nkey",
    "auth.creds": "creds",
    "tls.ca_pem": "ca",
    "tls.cert_pem": "cert",
    "tls.key_pem": "key",
}


async def import_context(backends: Backends, ctx: OrgContext, data: ContextImport) -> ClusterOut:
    try:
        return await register_cluster(backends, ctx, context_to_cluster(data))
    except Invalid as exc:  # a file that cannot be used: say which one
        key = _CONTEXT_FILES.get(str(exc.extra.get("field")))
        if key is None or not data.context.get(key):
            raise
        path = str(data.context[key])
        raise Invalid(
            f"{exc.detail} (the context's {key} file {path!r})",
            code=exc.code,
            extra={**exc.extra, "context_field": key, "path": path},
        ) from None
