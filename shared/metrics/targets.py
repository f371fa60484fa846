"""Which clusters to collect, as plain `CollectTarget` values (glue to `shared/clusters`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from shared.backends import Backends
from shared.clusters.models import Cluster
from shared.clusters.services import connection_spec
from shared.config import Settings
from shared.crypto import decrypt_json
from shared.errors import NotFound, Unavailable
from shared.metrics.collector import CollectTarget


def target_of(settings: Settings, cluster: Cluster) -> CollectTarget:
    secrets = decrypt_json(settings, cluster.secrets)
    return CollectTarget(
        org_id=str(cluster.org_id),
        cluster_id=str(cluster.id),
        cluster_name=cluster.name,
        spec=connection_spec(cluster, secrets),
        system_spec=connection_spec(cluster, secrets, system=True) if cluster.system_auth else None,
    )


async def enabled_cluster_ids(backends: Backends) -> list[str]:
    """Every enabled cluster, across organizations: the ones to collect."""
    if backends.database is None:
        raise Unavailable("Collection needs the database (JETDECK_DATABASE_URL).")
    async with backends.database.session() as session:
        ids = (await session.scalars(select(Cluster.id).where(Cluster.enabled))).all()
    return [str(i) for i in ids]


async def collection_target(backends: Backends, cluster_id: str) -> CollectTarget | None:
    """The target for one cluster, or None when it was removed or disabled meanwhile."""
    if backends.database is None:
        raise Unavailable("Collection needs the database (JETDECK_DATABASE_URL).")
    try:
        key = uuid.UUID(cluster_id)
    except ValueError:
        return None
    async with backends.database.session() as session:
        # Filtered in SQL at run time: a cluster disabled after this was enqueued is skipped.
        cluster = await session.scalar(select(Cluster).where(Cluster.id == key, Cluster.enabled))
    if cluster is None:
        return None
    return target_of(backends.settings, cluster)


async def cluster_id_of(backends: Backends, org_id: uuid.UUID, name: str) -> str:
    """The id of the organization's cluster `name` (NotFound when there is none): its id
    alone, not the whole registration with its secrets decrypted (every chart asks)."""
    if backends.database is None:
        raise Unavailable("The database is not configured.", code="database_unavailable")
    async with backends.database.session() as session:
        found = await session.scalar(
            select(Cluster.id).where(Cluster.org_id == org_id, Cluster.name == name)
        )
    if found is None:
        raise NotFound(
            f"No cluster named {name!r} in this organization",
            code="cluster_not_found",
            extra={"cluster": name},
        )
    return str(found)
