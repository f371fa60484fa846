"""`POST …/clusters/{c}/test`, and the console's "Test connection" before saving: connect
afresh and say what works and what does not."""

from __future__ import annotations

import time

from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.clusters.addresses import AddressPolicy
from shared.clusters.connect import connection_spec
from shared.clusters.models import Cluster
from shared.clusters.registry import load_cluster
from shared.clusters.schemas import ClusterIn, ClusterPatch, ConnectionTest
from shared.clusters.secrets import apply_change
from shared.errors import JetDeckError
from shared.nats import ClusterClient, ConnectionSpec


async def test_cluster(backends: Backends, ctx: OrgContext, name: str) -> ConnectionTest:
    """Connect afresh (not through the pool) and report version, RTT and JetStream account
    info, or exactly why it failed: DNS, refused, auth, TLS, no JetStream, timeout."""
    cluster, secrets = await load_cluster(backends, ctx.org_id, name)
    return await _test_spec(backends, connection_spec(cluster, secrets), cluster.name)


async def test_candidate(
    backends: Backends,
    ctx: OrgContext,
    data: ClusterIn | ClusterPatch,
    *,
    based_on: str | None = None,
) -> ConnectionTest:
    """Test a configuration that is not saved: a registration (`ClusterIn`), or a change to
    the registered cluster `based_on` (`ClusterPatch`: secrets not given are the stored
    ones, as saving it would keep them). The same checks as saving (secrets' shape, the
    address policy: a refused or malformed setting raises its 400 naming the field) and the
    same connection code as `test_cluster`; nothing is stored and nothing is audited."""
    if based_on is not None:
        # A detached copy: changing it changes nothing stored.
        cluster, stored = await load_cluster(backends, ctx.org_id, based_on)
    else:
        cluster, stored = Cluster(name=data.name or "candidate", servers=[], auth={}), {}
    if data.servers is not None:
        await AddressPolicy(backends.settings.clusters.allowed_networks).check_registration(
            list(data.servers)
        )
    secrets = apply_change(
        cluster,
        stored,
        servers=data.servers,
        auth=data.auth,
        tls=data.tls,
        system_auth=data.system_auth,
    )
    return await _test_spec(backends, connection_spec(cluster, secrets), data.name or cluster.name)


async def _test_spec(backends: Backends, spec: ConnectionSpec, label: str) -> ConnectionTest:
    try:
        nc = await backends.nats.connect(spec, label)
    except JetDeckError as exc:
        return ConnectionTest(ok=False, error={"code": exc.code, "detail": exc.detail})
    client = ClusterClient(label, nc, backends.nats.timeout)
    try:
        started = time.perf_counter()
        await nc.flush(timeout=int(backends.nats.timeout) or 1)
        rtt_ms = round((time.perf_counter() - started) * 1000, 3)
        version = str(nc._server_info.get("version") or "") or None
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
