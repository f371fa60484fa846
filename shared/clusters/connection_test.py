"""`POST …/clusters/{c}/test`: connect afresh and say what works and what does not."""

from __future__ import annotations

import time

from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.clusters.connect import connection_spec
from shared.clusters.registry import load_cluster
from shared.clusters.schemas import ConnectionTest
from shared.errors import JetDeckError
from shared.nats import ClusterClient


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
