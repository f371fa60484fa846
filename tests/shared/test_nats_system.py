"""`$SYS` pings: every server answers, and a round ends once every expected server did."""

from __future__ import annotations

import json

import pytest

from shared import errors
from shared.nats import Auth, ConnectionPool, ConnectionSpec
from shared.nats.system import _cluster_size, ping
from tests.shared.test_nats_gateway import answer_in_order, spec_for


def system_spec(target) -> ConnectionSpec:
    return ConnectionSpec(
        servers=tuple(target.servers),
        auth=Auth(
            kind="user_password", username=target.system_user, password=target.system_password
        ),
    )


def jsz(name: str, cluster_size: int) -> bytes:
    return json.dumps(
        {
            "server": {"name": name, "jetstream": True},
            "data": {"meta_cluster": {"leader": "n1", "cluster_size": cluster_size}},
        }
    ).encode()


# What nats-server answers to VARZ on a JetStream server of a 3-node cluster, and on a server
# with JetStream off (`"jetstream": {}`), trimmed.
VARZ_JETSTREAM = json.dumps(
    {
        "server": {"name": "n1", "jetstream": True},
        "data": {"jetstream": {"config": {}, "meta": {"leader": "n2", "cluster_size": 3}}},
    }
).encode()
VARZ_NO_JETSTREAM = json.dumps(
    {"server": {"name": "edge", "jetstream": False}, "data": {"jetstream": {}}}
).encode()
JSZ_NO_JETSTREAM = json.dumps(
    {"server": {"name": "edge", "jetstream": False}, "data": {"disabled": True}}
).encode()


def test_the_meta_cluster_size_is_read_from_varz_and_jsz_replies() -> None:
    assert _cluster_size(VARZ_JETSTREAM) == 3
    assert _cluster_size(jsz("n1", 3)) == 3
    assert _cluster_size(VARZ_NO_JETSTREAM) is None
    assert _cluster_size(JSZ_NO_JETSTREAM) is None
    assert _cluster_size(b"not json") is None


async def test_a_ping_ends_once_every_jetstream_server_of_the_meta_cluster_answered(
    nats_server,
) -> None:
    # A server without JetStream answers too but is not counted; a reply after the third
    # JetStream server's is not waited for.
    order = [JSZ_NO_JETSTREAM, jsz("n1", 3), jsz("n2", 3), jsz("n3", 3), jsz("n4", 3)]
    responder = await answer_in_order(nats_server, "$SYS.REQ.SERVER.PING.TESTZ", order)
    pool = ConnectionPool()
    client = await pool.client("c1", spec_for(nats_server))
    replies = await ping(client, "TESTZ", timeout=10, quiet=10)
    await pool.close()
    await responder.close()
    assert [r.payload for r in replies] == order[:4]


async def test_a_lingering_ping_also_keeps_a_server_without_jetstream_that_answers_last(
    nats_server,
) -> None:
    order = [VARZ_JETSTREAM, VARZ_JETSTREAM, VARZ_JETSTREAM, VARZ_NO_JETSTREAM]
    responder = await answer_in_order(nats_server, "$SYS.REQ.SERVER.PING.TESTZ", order)
    pool = ConnectionPool()
    client = await pool.client("c1", spec_for(nats_server))
    replies = await ping(client, "TESTZ", timeout=10, quiet=10, linger=0.5)
    await pool.close()
    await responder.close()
    assert [r.payload for r in replies] == order


async def test_a_ping_with_an_expected_count_ends_at_that_many_replies(nats_server) -> None:
    order = [JSZ_NO_JETSTREAM, jsz("n1", 3), jsz("n2", 3), jsz("n3", 3)]
    responder = await answer_in_order(nats_server, "$SYS.REQ.SERVER.PING.TESTZ", order)
    pool = ConnectionPool()
    client = await pool.client("c1", spec_for(nats_server))
    replies = await ping(client, "TESTZ", expected=2, timeout=10, quiet=10)
    await pool.close()
    await responder.close()
    assert [r.payload for r in replies] == order[:2]


async def test_a_ping_nobody_answers_is_unavailable(nats_server) -> None:
    pool = ConnectionPool()
    client = await pool.client("c1", spec_for(nats_server), label="prod")
    with pytest.raises(errors.Unavailable) as caught:
        await ping(client, "NOBODYZ", timeout=0.2)
    await pool.close()
    assert caught.value.code == "cluster_unreachable"
    assert "prod" in caught.value.detail


@pytest.mark.parametrize("kind", ["VARZ", "JSZ"])
async def test_every_server_of_the_cluster_answers_a_ping(nats_cluster, kind: str) -> None:
    pool = ConnectionPool()
    client = await pool.client("c1:system", system_spec(nats_cluster))
    replies = await ping(client, kind)
    await pool.close()
    names = {json.loads(r.payload)["server"]["name"] for r in replies}
    assert names == {node.name for node in nats_cluster.nodes}
