"""The NATS gateway against a real nats-server."""

import asyncio
from dataclasses import replace

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
