"""`GET …/clusters/{c}/overview`: servers, JetStream usage and the meta cluster."""

from __future__ import annotations

import asyncio
import json

import msgspec

from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.clusters.connect import connection_spec
from shared.clusters.registry import load_cluster
from shared.clusters.schemas import Overview
from shared.metrics.reports import jsz_decoder
from shared.nats.system import ping

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
        server["rtt_ms"] = round(await client.rtt() * 1000, 3)  # a PING/PONG with it
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
    # A server's RTT is the time its VARZ reply took (network both ways plus the server's
    # time to answer), as `nats server list` shows for its STATSZ ping: NATS itself reports
    # no round trip to a requester, only its own to clients (CONNZ) and routes (ROUTEZ).
    varz = [(json.loads(r.payload), r.rtt_seconds) for r in varz_replies]
    jsz = [jsz_decoder.decode(r.payload) for r in jsz_replies]  # the collector's structs
    # Each JetStream server's own memory and file storage use (JSZ), beside its VARZ facts.
    js_use = {r.server.name: r.data for r in jsz if r.data is not None}
    servers = []
    for reply, rtt in sorted(varz, key=lambda r: str(r[0].get("server", {}).get("name"))):
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
                "rtt_ms": round(rtt * 1000, 3),
                "js_memory": use.memory if (use := js_use.get(str(srv.get("name")))) else None,
                "js_storage": use.storage if use else None,
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
