"""How JetDeck reaches a registered cluster: its connection spec, through the pool."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.clusters.models import Cluster
from shared.clusters.registry import RESOLVED, load_cluster
from shared.clusters.secrets import with_credentials
from shared.nats import Auth, ClusterClient, ConnectionSpec, Tls


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
    credentials = secrets.get("server_credentials") or {}
    return ConnectionSpec(
        servers=tuple(with_credentials(url, credentials.get(url)) for url in cluster.servers),
        auth=auth,
        tls=tls,
        name=f"jetdeck:{cluster.name}{':system' if system else ''}",
    )


@dataclass(frozen=True)
class ClusterTarget:
    """What a request needs of a registered cluster: its id (the pool's key) and how to reach
    it. Immutable: shared by the requests of a process (`registry.RESOLVED`)."""

    id: uuid.UUID
    name: str
    spec: ConnectionSpec


async def cluster_target(backends: Backends, org_id: uuid.UUID, name: str) -> ClusterTarget:
    """The organization's cluster `name` (404 when unknown), from this process's cache while
    no cluster changed (registry.RESOLVED), else from the database."""
    epoch = await RESOLVED.epoch(backends.redis)
    target: ClusterTarget | None = RESOLVED.get(backends.redis, (org_id, name), epoch)
    if target is None:
        cluster, secrets = await load_cluster(backends, org_id, name)
        target = ClusterTarget(cluster.id, cluster.name, connection_spec(cluster, secrets))
        RESOLVED.put(backends.redis, (org_id, name), epoch, target)
    return target


async def cluster_client(backends: Backends, ctx: OrgContext, name: str) -> ClusterClient:
    """The pooled connection to the organization's cluster `name` (404 when unknown)."""
    target = await cluster_target(backends, ctx.org_id, name)
    return await backends.nats.client(str(target.id), target.spec, label=target.name)
