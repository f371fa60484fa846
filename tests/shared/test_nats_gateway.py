"""The NATS gateway against a real nats-server."""

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from shared import errors
from shared.nats import Auth, ConnectionPool, ConnectionSpec, Tls


def spec_for(target, **auth) -> ConnectionSpec:
    return ConnectionSpec(
        servers=tuple(target.servers),
        auth=Auth(kind="user_password", username=target.user, password=target.password, **auth),
    )


async def test_a_missing_stream_is_not_found_with_nats_own_description(nats_server) -> None:
    pool = ConnectionPool()
    client = await pool.client("c1", spec_for(nats_server))
    with pytest.raises(errors.NotFound) as caught:
        await client.js("STREAM.INFO.NOPE")
    await pool.close()
    assert caught.value.code == "stream_not_found"
    assert caught.value.extra["nats_err_code"] == 10059
    assert "stream not found" in caught.value.extra["description"]


async def test_lists_page_until_total_past_one_page(nats_server) -> None:
    pool = ConnectionPool()
    client = await pool.client("c1", spec_for(nats_server))
    for i in range(300):
        await client.js(
            f"STREAM.CREATE.S{i}", {"name": f"S{i}", "subjects": [f"s{i}"], "storage": "memory"}
        )
    names = [n async for n in client.js_paged("STREAM.NAMES", "streams")]
    await pool.close()
    assert len(names) == 300


async def test_the_pool_keeps_one_connection_per_cluster(nats_server) -> None:
    pool = ConnectionPool()
    first = await pool.client("c1", spec_for(nats_server))
    again = await pool.client("c1", spec_for(nats_server))
    await pool.close()
    assert first is again


async def test_wrong_password_is_reported_as_an_authentication_failure(nats_server) -> None:
    pool = ConnectionPool(connect_timeout=2)
    spec = ConnectionSpec(
        servers=tuple(nats_server.servers),
        auth=Auth(kind="user_password", username="jetdeck", password="wrong"),
    )
    with pytest.raises(errors.Unavailable) as caught:
        await pool.client("c1", spec)
    assert caught.value.code == "cluster_auth_failed"


async def test_a_refused_connection_names_the_cluster(nats_server) -> None:
    from services.embedded.process import free_port

    pool = ConnectionPool(connect_timeout=1)
    spec = ConnectionSpec(servers=(f"nats://127.0.0.1:{free_port()}",))
    with pytest.raises(errors.Unavailable) as caught:
        await pool.client("prod-eu", spec, label="prod-eu")
    assert "prod-eu" in caught.value.detail
    assert caught.value.code == "cluster_unreachable"


async def test_an_idle_connection_is_closed_without_further_use_of_the_pool(nats_server) -> None:
    pool = ConnectionPool(idle_seconds=0.05)
    client = await pool.client("c1", spec_for(nats_server))
    await asyncio.sleep(0.1)
    assert await pool.close_idle() == 1
    assert client.nc.is_closed
    again = await pool.client("c1", spec_for(nats_server))
    assert again is not client and again.nc.is_connected
    await pool.close()


async def test_a_connection_in_use_is_not_closed_as_idle(nats_server) -> None:
    pool = ConnectionPool(idle_seconds=0.2)
    client = await pool.client("c1", spec_for(nats_server))
    for _ in range(4):
        await asyncio.sleep(0.08)
        await client.js("INFO")
    assert await pool.close_idle() == 0
    assert client.nc.is_connected
    await pool.close()


def test_the_fingerprint_changes_with_a_secret() -> None:
    spec = ConnectionSpec(
        servers=("nats://h:4222",),
        auth=Auth(kind="user_password", username="u", password="old"),
        tls=Tls(ca_pem="CA", cert_pem="CERT", key_pem="KEY-OLD"),
    )
    new_password = replace(spec, auth=replace(spec.auth, password="new"))
    assert spec.tls is not None
    new_key = replace(spec, tls=replace(spec.tls, key_pem="KEY-NEW"))
    assert spec.fingerprint() == replace(spec).fingerprint()
    assert new_password.fingerprint() != spec.fingerprint()
    assert new_key.fingerprint() != spec.fingerprint()


async def test_the_pool_reconnects_when_the_password_changes(nats_server) -> None:
    class Pool(ConnectionPool):
        async def connect(self, spec: ConnectionSpec, label: str) -> NATS:
            # The test server knows one password: connect with it whatever the spec says.
            return await super().connect(spec_for(nats_server), label)

    pool = Pool()
    first = await pool.client("c1", spec_for(nats_server))
    changed = ConnectionSpec(
        servers=tuple(nats_server.servers),
        auth=Auth(kind="user_password", username=nats_server.user, password="rotated"),
    )
    again = await pool.client("c1", changed)
    await pool.close()
    assert again is not first
    assert first.nc.is_closed


async def answer_in_order(target, subject: str, payloads: list[bytes]) -> NATS:
    """One responder standing in for several servers: it sends `payloads` as separate replies,
    in this order (one connection keeps its order on the wire)."""
    nc = await target.connect()

    async def reply(msg) -> None:
        for payload in payloads:
            await nc.publish(msg.reply, payload)

    await nc.subscribe(subject, cb=reply)
    await nc.flush()
    return nc


def ends_at_third(seen: list[bytes]) -> Callable[[Any], bool]:
    """A round's end at the third reply; every reply it is shown goes to `seen`."""

    def third(msg: Any) -> bool:
        seen.append(msg.data)
        return len(seen) == 3

    return third


async def test_a_gather_ends_at_the_reply_that_completes_it_and_keeps_none_after(
    nats_server,
) -> None:
    responder = await answer_in_order(nats_server, "fleet.ping", [b"a", b"b", b"c", b"late"])
    pool = ConnectionPool()
    client = await pool.client("c1", spec_for(nats_server))
    seen: list[bytes] = []
    third = ends_at_third(seen)
    # Without the early end, the fourth reply would be in: it comes well within the quiet gap.
    replies = await client.gather("fleet.ping", timeout=10, quiet=10, until=third)
    await pool.close()
    await responder.close()
    assert [r.payload for r in replies] == [b"a", b"b", b"c"]
    assert seen == [b"a", b"b", b"c"]
    assert all(r.rtt_seconds >= 0 for r in replies)


async def test_a_gather_that_lingers_keeps_the_replies_that_follow_its_end(nats_server) -> None:
    responder = await answer_in_order(nats_server, "fleet.ping", [b"a", b"b", b"c", b"edge"])
    pool = ConnectionPool()
    client = await pool.client("c1", spec_for(nats_server))
    seen: list[bytes] = []
    third = ends_at_third(seen)
    # The quiet gap alone would wait 10 s; the linger ends the round soon after "edge".
    replies = await client.gather("fleet.ping", timeout=10, quiet=10, until=third, linger=0.5)
    await pool.close()
    await responder.close()
    assert [r.payload for r in replies] == [b"a", b"b", b"c", b"edge"]
    assert seen == [b"a", b"b", b"c", b"edge"]  # `until` saw every reply, once


async def test_a_gather_without_an_end_keeps_every_reply_until_a_quiet_gap(nats_server) -> None:
    responder = await answer_in_order(nats_server, "fleet.ping", [b"a", b"b", b"c", b"d"])
    pool = ConnectionPool()
    client = await pool.client("c1", spec_for(nats_server))
    replies = await client.gather("fleet.ping", timeout=10, quiet=1.0)
    await pool.close()
    await responder.close()
    assert [r.payload for r in replies] == [b"a", b"b", b"c", b"d"]


async def test_a_gather_nobody_listens_to_is_empty(nats_server) -> None:
    pool = ConnectionPool()
    client = await pool.client("c1", spec_for(nats_server))
    replies = await client.gather("nobody.listens", timeout=0.2)
    await pool.close()
    assert replies == []


async def test_a_gather_nobody_answers_is_empty_at_its_timeout(nats_server) -> None:
    listener = await nats_server.connect()

    async def ignore(_msg) -> None:
        return None

    await listener.subscribe("fleet.silent", cb=ignore)
    await listener.flush()
    pool = ConnectionPool()
    client = await pool.client("c1", spec_for(nats_server))
    replies = await client.gather("fleet.silent", timeout=0.2)
    await pool.close()
    await listener.close()
    assert replies == []
