"""One collection cycle for one cluster: read what NATS reports, write samples to ClickHouse.

With system-account credentials a cycle is one `$SYS.REQ.SERVER.PING.JSZ` round (one reply
per server, so O(servers) however many streams there are). Without them, STREAM.LIST and
CONSUMER.LIST are paged. Either way the samples get the cycle's own timestamp, so a retried
cycle writes the same rows again and the store skips them (see `shared/metrics/store.py`).

JSZ is asked *without* `stream_leader_only`: a consumer's `num_pending` is only computed on the
consumer's leader (a follower reports 0; nats-server issues #4539, #8140), and the consumer
leader is often not the stream leader. So each server reports the assets it hosts, and the
collector keeps each stream from its stream leader's reply and each consumer from its
consumer leader's reply. Still one request per server.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import nats.errors

from shared import errors
from shared.config import MetricsSettings
from shared.metrics import store
from shared.metrics.clickhouse import ClickHouse
from shared.metrics.reports import (
    AccountDetail,
    AccountInfo,
    ConsumerReport,
    JszReply,
    StreamListItem,
    StreamReport,
    jsz_decoder,
)
from shared.metrics.samples import (
    AccountSample,
    Collection,
    ConsumerSample,
    ServerSample,
    StreamSample,
    filters_of,
)
from shared.nats import ConnectionPool, ConnectionSpec
from shared.nats.gateway import ClusterClient
from shared.nats.system import connected_account, ping_jsz

log = logging.getLogger("jetdeck.metrics")

# Consumers listed concurrently (one CONSUMER.LIST per stream) without system credentials.
LIST_CONCURRENCY = 16
TIME_LAG_CONCURRENCY = 16
# JSZ details per server reply; a server holding more streams pages (rare, still O(servers)).
JSZ_LIMIT = 100_000
_UNLIMITED = 2**63


@dataclass(frozen=True)
class CollectTarget:
    """Everything a collection needs to know about a cluster, as plain values."""

    org_id: str
    cluster_id: str
    cluster_name: str
    spec: ConnectionSpec
    system_spec: ConnectionSpec | None = None


@dataclass
class CollectionResult:
    cluster_id: str
    ts: datetime
    source: str  # "jsz", "list" or "unreachable"
    requests: int  # NATS requests sent this cycle (one JSZ round counts once)
    replies: int  # replies received to them (a JSZ round: one per server)
    duration_seconds: float
    streams: int = 0
    consumers: int = 0
    written: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    # The samples themselves, for the alert evaluation that follows the cycle.
    collection: Collection | None = field(default=None, repr=False)

    @property
    def reachable(self) -> bool:
        return self.source != "unreachable"


def cycle_time(interval: int, now: float | None = None) -> datetime:
    """The start of the collection cycle `now` falls in: the same for every retry of it."""
    moment = time.time() if now is None else now
    return datetime.fromtimestamp(int(moment // interval) * interval, UTC)


async def collect_cluster(
    ch: ClickHouse | None,
    pool: ConnectionPool,
    target: CollectTarget,
    ts: datetime,
    settings: MetricsSettings | None = None,
    *,
    write: bool = True,
) -> CollectionResult:
    """Collect and store one cycle. A cluster that cannot be read is recorded as unreachable;
    only a ClickHouse failure raises (the actor's retry then repeats the cycle harmlessly).
    `write=False` reads without storing (an alert rule's preview)."""
    settings = settings or MetricsSettings()
    started = time.monotonic()
    counter = _Counter()
    collection = Collection(org_id=target.org_id, cluster_id=target.cluster_id, ts=ts)
    error: str | None = None
    source = "unreachable"
    account, app_error = await _registered_account(pool, target, counter)
    if target.system_spec is not None:
        try:
            await _from_jsz(pool, target, collection, counter, settings, account)
            source = "jsz"
        except _CLUSTER_FAILURES as exc:
            error = _reason(exc)
            log.info("JSZ collection of %s failed, listing instead: %s", target.cluster_name, exc)
            collection.clear()
    if source == "unreachable" and app_error is not None:
        error = app_error  # the registered credentials just failed to connect: no second try
    elif source == "unreachable":
        try:
            await _from_listing(pool, target, collection, counter, account or "")
            source = "list"
        except _CLUSTER_FAILURES as exc:
            error = _reason(exc)
            collection.clear()
    if source != "unreachable":
        await _read_time_lags(pool, target, collection, counter, settings.time_lag_reads, account)
    else:
        collection.servers.append(
            ServerSample(
                server="",
                server_id="",
                reachable=False,
                rtt_ms=0.0,
                version="",
                source="none",
                error=error or "unreachable",
            )
        )
    written: dict[str, int] = {}
    if write:
        assert ch is not None, "storing samples needs ClickHouse"
        written = await store.write_collection(ch, collection)
    return CollectionResult(
        cluster_id=target.cluster_id,
        ts=ts,
        source=source,
        requests=counter.requests,
        replies=counter.replies,
        duration_seconds=time.monotonic() - started,
        streams=len(collection.streams),
        consumers=len(collection.consumers),
        written=written,
        error=error if source == "unreachable" else None,
        collection=collection,
    )


# What a cluster (not JetDeck) can cause: recorded as an unreachable sample, never raised.
_CLUSTER_FAILURES = (errors.JetDeckError, msgspec.ValidationError, nats.errors.Error, OSError)


def _reason(exc: Exception) -> str:
    if isinstance(exc, errors.JetDeckError):
        return exc.detail
    return f"{type(exc).__name__}: {exc}"


class _Counter:
    def __init__(self) -> None:
        self.requests = 0
        self.replies = 0


async def _client(
    pool: ConnectionPool, key: str, spec: ConnectionSpec, label: str
) -> ClusterClient:
    return await pool.client(key, spec, label=label)


# The account each registered connection signs in to, learnt once per process and cluster.
# Only an answer is kept: when the server would not say (a timeout, no permission) it is
# asked again after `ACCOUNT_RETRY_SECONDS`, not every cycle (each try may wait out a timeout),
# and not never (a timeout during one bad minute must not label samples for the worker's life).
ACCOUNT_RETRY_SECONDS = 300.0
_accounts: dict[str, str] = {}
_account_failed_at: dict[str, float] = {}


async def _registered_account(
    pool: ConnectionPool, target: CollectTarget, counter: _Counter
) -> tuple[str | None, str | None]:
    """The registered credentials' account: JSZ is asked about it alone (the streams the rest
    of JetDeck shows), and samples are labelled with it whichever way they were collected.
    None when it cannot be learnt (then JSZ reports every account, labelled by name); the
    second value is why the registered credentials could not connect, if they could not."""
    key = f"{target.cluster_id}:{target.spec.fingerprint()}"
    if key in _accounts:
        return _accounts[key], None
    failed_at = _account_failed_at.get(key)
    if failed_at is not None and time.monotonic() - failed_at < ACCOUNT_RETRY_SECONDS:
        return None, None
    try:
        client = await _client(pool, target.cluster_id, target.spec, target.cluster_name)
    except errors.JetDeckError as exc:
        return None, exc.detail
    counter.requests += 1
    account = await connected_account(client)
    if account is None:
        _account_failed_at[key] = time.monotonic()
        return None, None
    counter.replies += 1
    _accounts[key] = account
    _account_failed_at.pop(key, None)
    return account, None


# ---- with system credentials: one JSZ round ----------------------------------------------

JSZ_BODY: dict[str, Any] = {
    "accounts": True,
    "streams": True,
    "consumer": True,
    # Configs carry what alerts read: limits, max_ack_pending, io.nats.monitor.* metadata.
    "config": True,
    "limit": JSZ_LIMIT,
}


async def _from_jsz(
    pool: ConnectionPool,
    target: CollectTarget,
    collection: Collection,
    counter: _Counter,
    settings: MetricsSettings,
    account: str | None,
) -> None:
    assert target.system_spec is not None
    client = await _client(
        pool, f"{target.cluster_id}:system", target.system_spec, f"{target.cluster_name} (system)"
    )
    counter.requests += 1
    body = {**JSZ_BODY, "account": account} if account else JSZ_BODY
    # The round ends when every JetStream server of the meta cluster answered, or at the
    # timeout: never at a quiet gap, which would cut off a slow leader (and leave only a
    # follower's figures, num_pending 0, for its consumers).
    replies = await ping_jsz(client, body, timeout=settings.jsz_timeout, quiet=settings.jsz_timeout)
    counter.replies += len(replies)
    decoded: list[tuple[JszReply, float]] = []
    for reply in replies:
        try:
            decoded.append((jsz_decoder.decode(reply.payload), reply.rtt_seconds))
        except msgspec.DecodeError as exc:
            log.warning("undecodable JSZ reply from %s: %s", target.cluster_name, exc)
    if not decoded:
        raise errors.Unavailable("No decodable JSZ reply", code="nats_bad_reply")
    apply_jsz(collection, decoded, account)


def apply_jsz(
    collection: Collection, replies: list[tuple[JszReply, float]], account: str | None = None
) -> None:
    """Turn every server's JSZ reply into samples; leaders' figures win (see module doc).
    Given `account`, only that account's assets are kept."""
    streams: dict[tuple[str, str], tuple[int, StreamReport]] = {}
    consumers: dict[tuple[str, str, str], tuple[int, ConsumerReport]] = {}
    accounts: dict[str, AccountSample] = {}
    known_servers: set[str] = set()
    answered: set[str] = set()
    for reply, rtt in replies:
        server, data = reply.server, reply.data
        answered.add(server.name)
        if data is None or data.disabled:
            collection.servers.append(
                ServerSample(
                    server=server.name,
                    server_id=server.id,
                    reachable=True,
                    rtt_ms=rtt * 1000,
                    version=server.ver,
                    source="jsz",
                    error="JetStream disabled",
                )
            )
            continue
        if data.meta_cluster is not None:
            known_servers.update(p.name for p in data.meta_cluster.replicas or [] if p.name)
        collection.servers.append(
            ServerSample(
                server=server.name,
                server_id=server.id,
                reachable=True,
                rtt_ms=rtt * 1000,
                version=server.ver,
                memory_used=data.memory,
                memory_limit=data.config.max_memory,
                storage_used=data.storage,
                storage_limit=data.config.max_storage,
                streams=data.streams,
                consumers=data.consumers,
                messages=data.messages,
                bytes=data.bytes,
                source="jsz",
            )
        )
        for detail in data.account_details or []:
            if account is not None and detail.name != account:
                continue
            _add_account(accounts, detail)
            for stream in detail.stream_detail or []:
                rank = _leadership(stream.cluster, server.name)
                key = (detail.name, stream.name)
                if key not in streams or rank > streams[key][0]:
                    streams[key] = (rank, stream)
                for consumer in stream.consumer_detail or []:
                    rank_c = _leadership(consumer.cluster, server.name)
                    if rank_c == 0:
                        # A follower does not compute num_pending (it reports 0): its figures
                        # are never recorded. A consumer whose leader did not answer has no
                        # sample this cycle, rather than a wrong one.
                        continue
                    ckey = (detail.name, stream.name, consumer.name)
                    if ckey not in consumers or rank_c > consumers[ckey][0]:
                        consumers[ckey] = (rank_c, consumer)
    for name in sorted(known_servers - answered):
        collection.servers.append(
            ServerSample(
                server=name,
                server_id="",
                reachable=False,
                rtt_ms=0.0,
                version="",
                source="jsz",
                error="did not answer the JSZ request",
            )
        )
    # Replicas are reported by each server: count each stream and consumer once.
    for account_name, _ in streams:
        accounts[account_name].streams += 1
    for account_name, _, _ in consumers:
        accounts[account_name].consumers += 1
    collection.accounts.extend(accounts.values())
    for (account_name, _), (_, report) in streams.items():
        collection.streams.append(
            StreamSample.from_report(
                account_name,
                report.name,
                report.created,
                report.state,
                report.config,
                report.cluster,
            )
        )
    for (account_name, stream_name, _), (_, c) in consumers.items():
        collection.consumers.append(ConsumerSample.from_report(account_name, stream_name, c))


def _leadership(cluster: Any, server: str) -> int:
    """How far `server`'s report of a stream or consumer is to be believed: 2 from its leader
    (or a single server, with no cluster block), 1 while no leader is named (a replica just
    created or electing; the best there is until a leader reports), 0 from a follower. The
    highest wins, so a follower's stale figures never hide the leader's."""
    if cluster is None or cluster.leader == server:
        return 2
    return 1 if not cluster.leader else 0


def _add_account(accounts: dict[str, AccountSample], detail: AccountDetail) -> None:
    sample = accounts.setdefault(detail.name, AccountSample(account=detail.name))
    # Each server reports its own share of the account's usage; reservations are per server.
    sample.memory_used += detail.memory
    sample.storage_used += detail.storage
    if 0 < detail.reserved_memory < _UNLIMITED:
        sample.memory_limit += detail.reserved_memory
    if 0 < detail.reserved_storage < _UNLIMITED:
        sample.storage_limit += detail.reserved_storage


# ---- without system credentials: page the JetStream API -----------------------------------


async def _from_listing(
    pool: ConnectionPool,
    target: CollectTarget,
    collection: Collection,
    counter: _Counter,
    account: str,
) -> None:
    client = await _client(pool, target.cluster_id, target.spec, target.cluster_name)
    started = time.monotonic()
    await client.nc.flush(timeout=max(1, math.ceil(client.timeout)))
    rtt = time.monotonic() - started
    counter.requests += 1
    info = msgspec.convert(await client.js("INFO"), AccountInfo)
    counter.replies += 1
    info_server = client.server_info
    collection.servers.append(
        ServerSample(
            server=str(info_server.get("server_name", "")),
            server_id=str(info_server.get("server_id", "")),
            reachable=True,
            rtt_ms=rtt * 1000,
            version=str(info_server.get("version", "")),
            source="list",
        )
    )
    collection.accounts.append(
        AccountSample(
            account=account,
            memory_used=info.memory,
            storage_used=info.storage,
            memory_limit=max(info.limits.max_memory, 0),
            storage_limit=max(info.limits.max_storage, 0),
            streams=info.streams,
            consumers=info.consumers,
        )
    )
    streams: list[StreamListItem] = []
    offset = 0
    while True:  # paged by hand to count the requests
        counter.requests += 1
        page = await client.js("STREAM.LIST", {"offset": offset})
        counter.replies += 1
        items = page.get("streams") or []
        streams += [msgspec.convert(item, StreamListItem) for item in items]
        offset += len(items)
        if not items or offset >= int(page.get("total") or 0):
            break
    for s in streams:
        collection.streams.append(
            StreamSample.from_report(
                account, s.config.name, s.created, s.state, s.config, s.cluster
            )
        )

    gate = asyncio.Semaphore(LIST_CONCURRENCY)

    async def consumers_of(stream: str) -> list[ConsumerReport]:
        found: list[ConsumerReport] = []
        async with gate:
            offset = 0
            while True:
                counter.requests += 1
                try:
                    page = await client.js(f"CONSUMER.LIST.{stream}", {"offset": offset})
                except errors.NotFound:  # deleted since it was listed
                    return found
                counter.replies += 1
                items = page.get("consumers") or []
                found += [msgspec.convert(item, ConsumerReport) for item in items]
                offset += len(items)
                if not items or offset >= int(page.get("total") or 0):
                    return found

    with_consumers = [s.config.name for s in streams if s.state.consumer_count]
    for stream, found in zip(
        with_consumers,
        await asyncio.gather(*(consumers_of(name) for name in with_consumers)),
        strict=True,
    ):
        collection.consumers.extend(ConsumerSample.from_report(account, stream, c) for c in found)


# ---- age of the first unacknowledged message ----------------------------------------------


async def _read_time_lags(
    pool: ConnectionPool,
    target: CollectTarget,
    collection: Collection,
    counter: _Counter,
    budget: int,
    account: str | None,
) -> None:
    """For consumers with a backlog (largest first, at most `budget`), read the message after
    the ack floor and record its age. Consumers without a backlog have a time lag of 0."""
    backlog = []
    for sample in collection.consumers:
        if sample.num_pending + sample.num_ack_pending == 0:
            sample.time_lag_seconds = 0.0
        else:
            backlog.append(sample)
    if not backlog or budget <= 0:
        return
    backlog.sort(key=lambda s: s.num_pending + s.num_ack_pending, reverse=True)
    try:
        client = await _client(pool, target.cluster_id, target.spec, target.cluster_name)
    except errors.JetDeckError as exc:
        log.info("no time lag for %s: %s", target.cluster_name, exc)
        return
    # Only the registered account's streams are readable with its credentials. Unknown
    # account and several reported (JSZ of every account): no reads rather than wrong ones.
    if account is not None:
        backlog = [s for s in backlog if s.account in (account, "")]
    elif len({s.account for s in backlog}) > 1:
        return
    gate = asyncio.Semaphore(TIME_LAG_CONCURRENCY)
    now = collection.ts

    async def read(sample: ConsumerSample) -> None:
        async with gate:
            filters, ack_floor = sample.filters, sample.ack_floor_stream_seq
            # Both JSZ (asked with `config`) and CONSUMER.LIST carry the filters; only a
            # report without the consumer's config costs a CONSUMER.INFO first.
            if filters is None:
                counter.requests += 1
                try:
                    info = msgspec.convert(
                        await client.js(
                            f"CONSUMER.INFO.{sample.stream}.{sample.consumer}", timeout=2.0
                        ),
                        ConsumerReport,
                    )
                except (errors.JetDeckError, msgspec.ValidationError):
                    return  # gone or unreadable: unknown this cycle
                counter.replies += 1
                filters = filters_of(info.config) if info.config else ()
                ack_floor = info.ack_floor.stream_seq
            # The first message after the ack floor that the consumer takes: per filter (a
            # MSG.GET takes one), the earliest of them.
            stamps = []
            for subject in filters or (">",):
                counter.requests += 1
                try:
                    reply = await client.js(
                        f"STREAM.MSG.GET.{sample.stream}",
                        {"seq": ack_floor + 1, "next_by_subj": subject},
                        timeout=2.0,
                    )
                except errors.NotFound:
                    counter.replies += 1
                    continue  # nothing on this filter after the floor
                except errors.JetDeckError:
                    return  # unreadable: unknown this cycle
                counter.replies += 1
                message = reply.get("message") or {}
                if message.get("time"):
                    stamps.append((int(message.get("seq") or 0), message["time"]))
            if stamps:
                written = msgspec.convert(min(stamps)[1], datetime)
                sample.time_lag_seconds = max(0.0, (now - written).total_seconds())

    await asyncio.gather(*(read(s) for s in backlog[:budget]))
