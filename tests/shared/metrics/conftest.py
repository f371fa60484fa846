"""Collection targets built from the NATS fixtures, as a registered cluster would give them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import nats
import pytest
from nats.errors import NoRespondersError
from nats.js.errors import BadRequestError, NoStreamResponseError, ServiceUnavailableError

from shared.metrics.collector import JSZ_BODY, CollectTarget, apply_jsz
from shared.metrics.reports import jsz_decoder
from shared.metrics.samples import Collection
from shared.nats import Auth, ConnectionPool, ConnectionSpec
from shared.nats.system import ping_jsz

ORG = "org-1"
T = TypeVar("T")


def target_for(
    deployment: Any, *, system: bool = True, cluster_id: str = "cluster-1"
) -> CollectTarget:
    servers = tuple(deployment.servers)
    spec = ConnectionSpec(servers, Auth("user_password", deployment.user, deployment.password))
    system_spec = (
        ConnectionSpec(
            servers, Auth("user_password", deployment.system_user, deployment.system_password)
        )
        if system
        else None
    )
    return CollectTarget(ORG, cluster_id, cluster_id, spec, system_spec)


def cycle(minutes: float = 0.0) -> datetime:
    """A cycle time on a whole hour in the past, plus `minutes`: samples land in known buckets."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    return hour + timedelta(minutes=minutes)


@pytest.fixture
async def pool() -> AsyncIterator[ConnectionPool]:
    pool = ConnectionPool(timeout=5, connect_timeout=2)
    yield pool
    await pool.close()


async def settling(call: Callable[[], Awaitable[T]]) -> T:
    """`call()`, retried while the cluster is still re-forming (another test may just have
    restarted a node: no meta or stream leader for a moment, a peer not caught up)."""
    for _ in range(100):
        try:
            return await call()
        except BadRequestError as exc:
            if exc.err_code != 10005:  # no suitable peers
                raise
        except (
            ServiceUnavailableError,
            NoStreamResponseError,
            NoRespondersError,
            nats.errors.TimeoutError,
        ):
            pass
        await asyncio.sleep(0.2)
    return await call()


async def add_stream(js: Any, **config: Any) -> Any:
    return await settling(lambda: js.add_stream(**config))


async def pull_subscribe(js: Any, subject: str, durable: str, stream: str) -> Any:
    """A pull subscription whose replicated consumer has elected its leader: a fetch before
    that is answered 503 (no responders) by the server."""
    sub = await settling(lambda: js.pull_subscribe(subject, durable=durable, stream=stream))
    for _ in range(100):
        info = await settling(lambda: js.consumer_info(stream, durable))
        if info.cluster is None or info.cluster.leader:
            return sub
        await asyncio.sleep(0.1)
    raise AssertionError(f"consumer {stream}/{durable} elected no leader in 10 s")


async def settled(js, stream: str, consumer: str, *, pending: int) -> None:
    """Wait until the consumer's leader counts every message (a replica that just restarted
    may still be catching up): the test then checks what JetDeck makes of settled numbers."""
    for _ in range(100):
        info = await js.consumer_info(stream, consumer)
        if info.num_pending == pending:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{stream}/{consumer}: num_pending {info.num_pending}, not {pending}")


async def ack_all(js: Any, msgs: list[Any], stream: str, consumer: str) -> None:
    """Acknowledge `msgs` and wait until the consumer's leader has applied every ack (an R3
    consumer answers an ack before every replica applied it): the test then checks what
    JetDeck makes of settled numbers. An ack is idempotent, so the acks are sent again when
    they do not show: right after a consumer is deleted and made again under the same name,
    the old one's leader may still be subscribed for a moment and swallow them."""
    ack_floor = max(msg.metadata.sequence.consumer for msg in msgs)
    for _ in range(5):
        for msg in msgs:
            await msg.ack_sync()
        for _ in range(20):
            info = await js.consumer_info(stream, consumer)
            if info.ack_floor.consumer_seq >= ack_floor:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(
        f"{stream}/{consumer}: ack floor {info.ack_floor.consumer_seq}, not {ack_floor}"
    )


async def jsz_agrees(deployment: Any, stream: str, consumer: str, **expected: int) -> None:
    """Wait until the consumer's figures in JSZ (its leader's report, as the collector reads
    it) are `expected` (`num_pending=60`, `ack_floor_consumer_seq=3`, ...). JSZ trails the
    consumer's own info by a moment right after a change; the test then checks what JetDeck
    makes of the numbers NATS reports, not how fast JSZ catches up."""
    pool = ConnectionPool(timeout=5, connect_timeout=2)
    try:
        system_spec = target_for(deployment).system_spec
        assert system_spec is not None
        client = await pool.client("jsz-check", system_spec, label="jsz check")
        seen: dict[str, int] = {}
        for _ in range(100):
            replies = await ping_jsz(client, JSZ_BODY)
            collection = Collection("org", "cluster", datetime.now(UTC))
            apply_jsz(collection, [(jsz_decoder.decode(r.payload), r.rtt_seconds) for r in replies])
            for sample in collection.consumers:
                if (sample.stream, sample.consumer) == (stream, consumer):
                    seen = {name: getattr(sample, name) for name in expected}
            if seen == expected:
                return
            await asyncio.sleep(0.1)
    finally:
        await pool.close()
    raise AssertionError(f"{stream}/{consumer} in JSZ: {seen}, not {expected}")


async def publish(nc: nats.NATS, subject: str, count: int) -> None:
    js = nc.jetstream()
    for i in range(count):
        # A retried publish stores once: its message id deduplicates it.
        msg_id = uuid.uuid4().hex
        await settling(
            lambda i=i, msg_id=msg_id: js.publish(
                subject, f"m{i}".encode(), headers={"Nats-Msg-Id": msg_id}
            )
        )
