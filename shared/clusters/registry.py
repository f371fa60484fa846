"""Register, read, change and remove an organization's clusters (PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.accounts.principals import OrgContext
from shared.accounts.schemas import Page
from shared.audit import record_change
from shared.backends import Backends
from shared.clusters.addresses import AddressPolicy
from shared.clusters.models import Cluster
from shared.clusters.schemas import AuthOut, ClusterIn, ClusterOut, ClusterPatch, TlsOut
from shared.clusters.secrets import apply_change, auth_out, without_credentials
from shared.crypto import decrypt_json, encrypt_json
from shared.db import Database
from shared.epochs import EpochCache
from shared.errors import Conflict, Invalid, NotFound, Unavailable

# What requests resolve a cluster's name to (connect.py: its id and connection spec), kept per
# process: looking a cluster up is a database round trip and a decryption, dearer than the
# browse it serves. Every change to a cluster (renamed, changed, removed) bumps the epoch once
# committed, so the next request in every process resolves it afresh; entries lapse after
# 30 s whatever happens (a lost increment).
RESOLVED: EpochCache[tuple[uuid.UUID, str], Any] = EpochCache(
    "jetdeck:clusters:epoch", max_age=30.0
)


def _db(backends: Backends) -> Database:
    if backends.database is None:
        raise Unavailable("The database is not configured.", code="database_unavailable")
    return backends.database


def to_out(cluster: Cluster, secrets: dict[str, Any]) -> ClusterOut:
    tls = cluster.tls
    return ClusterOut(
        id=cluster.id,
        name=cluster.name,
        # Rows from before URL credentials were secrets may still hold them: never shown.
        servers=[without_credentials(url)[0] for url in cluster.servers],
        server_credentials_set=bool(secrets.get("server_credentials"))
        or any(without_credentials(url)[1] for url in cluster.servers),
        auth=auth_out(cluster.auth, secrets.get("auth", {})) or AuthOut(type="none"),
        tls=TlsOut(
            ca_pem=tls.get("ca_pem"),
            cert_pem=tls.get("cert_pem"),
            key_pem_set=bool(secrets.get("tls", {}).get("key_pem")),
            handshake_first=bool(tls.get("handshake_first")),
        )
        if tls
        else None,
        system_auth=auth_out(cluster.system_auth, secrets.get("system_auth", {})),
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


def _policy(backends: Backends) -> AddressPolicy:
    return AddressPolicy(backends.settings.clusters.allowed_networks)


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


# The console's register and import forms live at /orgs/{org}/clusters/new and …/import, so
# a cluster of either name could never be opened there.
RESERVED_NAMES = frozenset({"new", "import"})


async def _name_free(session: AsyncSession, org_id: uuid.UUID, name: str) -> None:
    if name in RESERVED_NAMES:
        raise Invalid(
            f"{name!r} is reserved (the console's {name} page); choose another cluster name",
            code="cluster_name_reserved",
            extra={"field": "name", "cluster": name},
        )
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
    await _policy(backends).check_registration(list(data.servers))
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
        secrets = apply_change(
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
        record_change(f"cluster:{data.name}", None, _public(out))  # committed with the row
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
    if patch.servers is not None:
        await _policy(backends).check_registration(list(patch.servers))
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
        secrets = apply_change(
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
    await RESOLVED.changed(backends.redis)  # every process resolves it afresh
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
    await RESOLVED.changed(backends.redis)
    for suffix in ("", ":system"):
        await backends.nats.forget(f"{cluster_id}{suffix}")


async def load_cluster(
    backends: Backends, org_id: uuid.UUID, name: str
) -> tuple[Cluster, dict[str, Any]]:
    async with _db(backends).session() as session:
        cluster = await _load(session, org_id, name)
    return cluster, decrypt_json(backends.settings, cluster.secrets)
