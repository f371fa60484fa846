"""Which clusters to collect, as plain `CollectTarget` values (glue to `shared/clusters`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from shared.backends import Backends
from shared.clusters.connect import cluster_target
from shared.clusters.models import Cluster
from shared.clusters.services import connection_spec
from shared.config import Settings
from shared.crypto import decrypt_json
from shared.errors import Unavailable
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
    """The id of the organization's cluster `name` (NotFound when there is none), resolved
    as every request resolves its cluster (cached per process, kept honest by the clusters'
    epoch: clusters.connect.cluster_target), so a chart costs no database read."""
    return str((await cluster_target(backends, org_id, name)).id)
