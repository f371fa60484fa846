"""A server with JetStream disabled answers JSZ with `"disabled": true` (not null data): it is
not a JetStream server, neither for the size of the round nor in the samples. The fixture
cluster has no JetStream-less server, so these use literal replies."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from shared.metrics.collector import apply_jsz
from shared.metrics.reports import jsz_decoder
from shared.metrics.samples import Collection
from shared.nats.system import _cluster_size

# What nats-server (2.10) answers on a server started without JetStream.
DISABLED = json.dumps(
    {
        "server": {"name": "edge", "host": "0.0.0.0", "id": "NEDGE", "ver": "2.10.22"},
        "data": {
            "server_id": "NEDGE",
            "now": "2026-01-01T00:00:00Z",
            "disabled": True,
            "config": {"max_memory": 0, "max_storage": 0},
            "memory": 0,
            "storage": 0,
            "reserved_memory": 0,
            "reserved_storage": 0,
            "accounts": 0,
            "ha_assets": 0,
            "api": {"total": 0, "errors": 0},
            "streams": 0,
            "consumers": 0,
            "messages": 0,
            "bytes": 0,
        },
    }
).encode()


def enabled(name: str, cluster_size: int) -> bytes:
    return json.dumps(
        {
            "server": {"name": name, "id": f"N{name}", "ver": "2.10.22"},
            "data": {
                "config": {"max_memory": 1024, "max_storage": 2048},
                "streams": 1,
                "meta_cluster": {"name": "c", "leader": "n1", "cluster_size": cluster_size},
            },
        }
    ).encode()


def test_a_disabled_reply_gives_no_cluster_size() -> None:
    assert _cluster_size(DISABLED) is None
    assert _cluster_size(enabled("n1", 2)) == 2


def test_a_disabled_reply_is_recorded_as_jetstream_disabled() -> None:
    collection = Collection(org_id="o", cluster_id="c", ts=datetime.now(UTC))
    apply_jsz(collection, [(jsz_decoder.decode(DISABLED), 0.001)])

    (server,) = collection.servers
    assert (server.server, server.reachable, server.error) == ("edge", True, "JetStream disabled")
    assert jsz_decoder.decode(DISABLED).data is not None
