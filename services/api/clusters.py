"""/api/v1/orgs/{org}/clusters: register, read, change, remove, test, overview, import."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from services.access import Access, access
from services.api.auth import OrgContext
from shared.accounts.schemas import Page
from shared.backends import Backends
from shared.clusters import services
from shared.clusters.schemas import (
    ClusterIn,
    ClusterOut,
    ClusterPatch,
    ConnectionTest,
    ContextImport,
    Overview,
)


class ClusterController(Controller):
    path = "/orgs/{org:str}/clusters"
    tags = ["clusters"]

    @get("/", opt=access(Access.VIEWER))
    async def list_clusters(
        self, org_context: NamedDependency[OrgContext], backends: NamedDependency[Backends]
    ) -> Page[ClusterOut]:
        return await services.list_clusters(backends, org_context)

    @post("/", opt=access(Access.ADMIN, audit="cluster.create"))
    async def register_cluster(
        self,
        data: JSONBody[ClusterIn],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> ClusterOut:
        return await services.register_cluster(backends, org_context, data)

    @post("/import", opt=access(Access.ADMIN, audit="cluster.import"))
    async def import_context(
        self,
        data: JSONBody[ContextImport],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> ClusterOut:
        return await services.import_context(backends, org_context, data)

    @get("/{cluster:str}", opt=access(Access.VIEWER))
    async def get_cluster(
        self,
        cluster: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> ClusterOut:
        return await services.get_cluster(backends, org_context, cluster)

    @patch("/{cluster:str}", opt=access(Access.ADMIN, audit="cluster.update"))
    async def update_cluster(
        self,
        cluster: FromPath[str],
        data: JSONBody[ClusterPatch],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> ClusterOut:
        return await services.update_cluster(backends, org_context, cluster, data)

    @delete("/{cluster:str}", opt=access(Access.ADMIN, audit="cluster.delete"))
    async def delete_cluster(
        self,
        cluster: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> None:
        await services.delete_cluster(backends, org_context, cluster)

    @post(
        "/{cluster:str}/test",
        status_code=HTTP_200_OK,
        opt=access(Access.VIEWER, audit_exempt="connects and reports; changes nothing"),
    )
    async def test_cluster(
        self,
        cluster: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> ConnectionTest:
        return await services.test_cluster(backends, org_context, cluster)

    @get("/{cluster:str}/overview", opt=access(Access.VIEWER))
    async def cluster_overview(
        self,
        cluster: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> Overview:
        return await services.cluster_overview(backends, org_context, cluster)
