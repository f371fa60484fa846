"""The only `$SYS` code: pings every server answers, and who the client signs in as.

A `$SYS.REQ.SERVER.PING.<KIND>` request (VARZ, JSZ, ...) is published once; each server of
the cluster answers it (`ClusterClient.gather`). Nobody says how many will, so the round ends
when every JetStream server of the meta cluster answered (its size is in each JetStream
server's reply; a server with JetStream off answers too, and is not counted), or a given
`expected` number of replies came, when no reply came for `quiet` seconds after the last
one, or at `timeout`, whichever comes first. A server with JetStream off that answers after
every JetStream server did is left out of such a round, unless the caller asks the round to
`linger` (the cluster overview does, so it lists every server).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from shared import errors
from shared.nats.gateway import ClusterClient, ServerReply

PING = "$SYS.REQ.SERVER.PING"
_encode = msgspec.json.Encoder()


class _Peer(msgspec.Struct):
    offline: bool = False


class _Meta(msgspec.Struct):
    cluster_size: int = 0
    replicas: list[_Peer] | None = None  # only in the meta leader's JSZ reply


class _JetStreamVarz(msgspec.Struct):
    meta: _Meta | None = None


class _Data(msgspec.Struct):
    disabled: bool = False  # JSZ: JetStream is off on this server
    meta_cluster: _Meta | None = None  # JSZ
    jetstream: _JetStreamVarz | None = None  # VARZ


class _Server(msgspec.Struct):
    jetstream: bool | None = None


class _Head(msgspec.Struct):
    server: _Server | None = None
    data: _Data | None = None


_head = msgspec.json.Decoder(_Head)


def _meta(payload: bytes) -> _Meta | bool | None:
    """The reply's meta cluster block; True for a JetStream server's reply without one (a
    single server); None when the reply is not a JetStream server's (undecodable, no data,
    or JetStream off)."""
    try:
        head = _head.decode(payload)
    except msgspec.DecodeError:
        return None
    data = head.data
    if data is None or data.disabled or (head.server and head.server.jetstream is False):
        return None
    meta = data.meta_cluster or (data.jetstream.meta if data.jetstream else None)
    return meta if meta is not None else True


def _cluster_size(payload: bytes) -> int | None:
    """How many JetStream servers the reply's meta cluster has (a JSZ or VARZ reply); None
    when the reply is not a JetStream server's (undecodable, no data, or JetStream off)."""
    meta = _meta(payload)
    if meta is None:
        return None
    return meta.cluster_size if isinstance(meta, _Meta) and meta.cluster_size else 1


def _online_servers(payload: bytes) -> int | None:
    """How many of the meta cluster's servers are online, when the reply is the meta
    leader's JSZ reply (it alone lists the peers, the ones known down marked offline)."""
    meta = _meta(payload)
    if not isinstance(meta, _Meta) or meta.replicas is None:
        return None
    size = meta.cluster_size or 1
    return max(1, size - sum(1 for peer in meta.replicas if peer.offline))


def every_jetstream_server() -> Callable[[Any], bool]:
    """A round's end: true once as many JetStream servers answered as the meta cluster has
    (as the first reply says), or as are online (as the meta leader's reply says, once it
    came: a server known to be down is not waited for)."""
    answered_count = 0
    expected: int | None = None

    def answered(msg: Any) -> bool:
        nonlocal answered_count, expected
        size = _cluster_size(msg.data)
        if size is not None:
            answered_count += 1
            online = _online_servers(msg.data)
            if online is not None:
                expected = online
            elif expected is None:
                expected = size
        return expected is not None and answered_count >= expected

    return answered


def replies_counted(expected: int) -> Callable[[Any], bool]:
    """A round's end: true at the `expected`-th reply."""
    count = 0

    def answered(_msg: Any) -> bool:
        nonlocal count
        count += 1
        return count >= expected

    return answered


async def ping(
    client: ClusterClient,
    kind: str,
    body: dict[str, Any] | None = None,
    *,
    expected: int | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 (the round's deadline, not a cancel scope)
    quiet: float = 0.25,
    linger: float = 0.0,
) -> list[ServerReply]:
    """Every server's raw reply to `$SYS.REQ.SERVER.PING.<kind>` (the client must use system
    credentials), in arrival order. With `linger`, servers without JetStream that answer
    after every JetStream server did are waited for too, while each comes within `linger`
    seconds of the last reply.

    Raises `Unavailable` when no server answered at all (wrong credentials or unreachable).
    """
    until = replies_counted(expected) if expected is not None else every_jetstream_server()
    replies = await client.gather(
        f"{PING}.{kind}",
        _encode.encode(body or {}),
        timeout=timeout,
        quiet=quiet,
        until=until,
        linger=linger,
    )
    if not replies:
        raise errors.Unavailable(
            f"No server of cluster {client.label!r} answered the {kind} request within "
            f"{timeout:g}s (are the system account credentials right?)",
            code="cluster_unreachable",
            extra={"cluster": client.label},
        )
    return replies


async def ping_jsz(
    client: ClusterClient,
    body: dict[str, Any],
    *,
    expected: int | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 (the round's deadline, not a cancel scope)
    quiet: float = 0.25,
) -> list[ServerReply]:
    """Every server's JSZ reply to one request (see `ping`)."""
    return await ping(client, "JSZ", body, expected=expected, timeout=timeout, quiet=quiet)


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
