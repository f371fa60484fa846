"""The clusters domain, one module per purpose; this module keeps the old imports working.

- `registry`: register, read, change, remove (PostgreSQL)
- `secrets`: splitting secrets from what may be shown, merging a change with what is stored
- `connect`: the connection spec, and the pooled client
- `connection_test`: `POST …/test`, and testing a configuration before it is saved
- `overview`: `GET …/overview` (`$SYS` or the account's view)
- `natscli`: importing a natscli context
"""

from shared.clusters.connect import cluster_client, connection_spec
from shared.clusters.connection_test import test_candidate, test_cluster
from shared.clusters.natscli import context_to_cluster, import_context
from shared.clusters.overview import OVERVIEW_LINGER, cluster_overview
from shared.clusters.registry import (
    delete_cluster,
    get_cluster,
    list_clusters,
    load_cluster,
    register_cluster,
    to_out,
    update_cluster,
)

__all__ = [
    "OVERVIEW_LINGER",
    "cluster_client",
    "cluster_overview",
    "connection_spec",
    "context_to_cluster",
    "delete_cluster",
    "get_cluster",
    "import_context",
    "list_clusters",
    "load_cluster",
    "register_cluster",
    "test_candidate",
    "test_cluster",
    "to_out",
    "update_cluster",
]
