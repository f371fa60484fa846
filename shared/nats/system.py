"""The only `$SYS` code: one scatter-gather JSZ request answered by every server.

A `$SYS.REQ.SERVER.PING.JSZ` request is published once with a reply inbox; each server of
the cluster answers on it. The round ends when the expected number of servers answered (by
default the meta cluster's size, read from the first JetStream server's reply, and counting
JetStream servers only: one with JetStream off answers too, with `disabled` set), when no
reply came for `quiet` seconds after the last one, or at `timeout`, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any

import msgspec

from shared import errors
from shared.nats.gateway import ClusterClient

JSZ_SUBJECT = "$SYS.REQ.SERVER.PING.JSZ"
_encode = msgspec.json.Encoder()


class _Meta(msgspec.Struct):
    cluster_size: int = 0


class _Data(msgspec.Struct):
    disabled: bool = False  # JetStream is off on this server
    meta_cluster: _Meta | None = None


class _Head(msgspec.Struct):
    data: _Data | None = None


_head = msgspec.json.Decoder(_Head)


@dataclass(frozen=True)
class ServerReply:
    """One server's raw JSZ reply and how long after the request it arrived."""

    payload: bytes
    rtt_seconds: float


def _cluster_size(payload: bytes) -> int | None:
    """How many JetStream servers the reply's meta cluster has; None when the reply is not a
    JetStream server's (undecodable, no data, or JetStream disabled)."""
    try:
        head = _head.decode(payload)
    except msgspec.DecodeError:
        return None
    if head.data is None or head.data.disabled:
        return None
    if head.data.meta_cluster and head.data.meta_cluster.cluster_size:
        return head.data.meta_cluster.cluster_size
    return 1


async def ping_jsz(
    client: ClusterClient,
    body: dict[str, Any],
    *,
    expected: int | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 (the round's deadline, not a cancel scope)
    quiet: float = 0.25,
) -> list[ServerReply]:
    """Every server's JSZ reply to one request (the client must use system credentials).

    Raises `Unavailable` when no server answered at all (wrong credentials or unreachable).
    """
    nc = client.nc
    inbox = nc.new_inbox()
    replies: list[ServerReply] = []
    sizes: list[int] = []  # the meta cluster size each JetStream server's reply gave
    arrived = asyncio.Event()
    started = time.monotonic()

    async def on_reply(msg: Any) -> None:
        replies.append(ServerReply(msg.data, time.monotonic() - started))
        size = _cluster_size(msg.data)
        if size is not None:
            sizes.append(size)
        arrived.set()

    client.last_used = started
    sub = await nc.subscribe(inbox, cb=on_reply)
    try:
        await nc.publish(JSZ_SUBJECT, _encode.encode(body), reply=inbox)
        await nc.flush(timeout=max(1, math.ceil(timeout)))
        deadline = started + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if expected is not None and len(replies) >= expected:
                break
            if expected is None and sizes and len(sizes) >= sizes[0]:
                break
            arrived.clear()
            try:
                # Before the first reply wait up to the deadline; after it, only a quiet gap.
                await asyncio.wait_for(arrived.wait(), left if not replies else min(left, quiet))
            except TimeoutError:
                if replies:
                    break
    except (TimeoutError, OSError) as exc:
        raise errors.Unavailable(
            f"Cluster {client.label!r} did not take the JSZ request: {type(exc).__name__}",
            code="cluster_unreachable",
            extra={"cluster": client.label},
        ) from None
    finally:
        with contextlib.suppress(Exception):  # a closed connection has nothing to unsubscribe
            await sub.unsubscribe()
    if not replies:
        raise errors.Unavailable(
            f"No server of cluster {client.label!r} answered the JSZ request within {timeout:g}s "
            "(are the system account credentials right?)",
            code="cluster_unreachable",
            extra={"cluster": client.label},
        )
    return replies


class _UserInfo(msgspec.Struct):
    account: str | None = None


class _UserInfoReply(msgspec.Struct):
    data: _UserInfo | None = None


_user_info = msgspec.json.Decoder(_UserInfoReply)


async def connected_account(client: ClusterClient) -> str | None:
    """The account the client's user signs in to (`$SYS.REQ.USER.INFO`), or None if unknown."""
    try:
        reply = await client.request_raw("$SYS.REQ.USER.INFO", b"", timeout=2.0)
        info = _user_info.decode(reply.data)
    except (errors.JetDeckError, msgspec.DecodeError):
        return None
    return info.data.account if info.data else None
