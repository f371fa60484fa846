"""One request function for the JetStream API, one pooled connection per cluster.

`ClusterClient.js(...)` is the only place `$JS.API` requests are sent: it applies the
per-request timeout, decodes replies with msgspec (unknown fields are tolerated), and turns
JetStream errors into domain errors by `err_code`. List calls page until `total`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import nats
from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from shared import errors
from shared.epochs import Epochs, LocalEpochs
from shared.nats.connection import ConnectionSpec, CredentialsError
from shared.nats.errors import domain_error
from shared.nats.headers import encode_headers, parse_for_client

log = logging.getLogger("jetdeck.nats")

API = "$JS.API"
IDLE_SECONDS = 300.0
# How long a failed connect attempt answers for its cluster before the next one is tried.
FAILURE_SECONDS = 3.0
# How long closing a connection that failed to come up may take (its socket is dropped anyway).
CLOSE_SECONDS = 0.5
_json = msgspec.json.Decoder()
_encode = msgspec.json.Encoder()


class NatsApiError(errors.JetDeckError):
    """Only raised where a caller must tell JetStream errors from the rest (rare)."""


class RawHeaderClient(NATS):
    """nats-py's client, keeping each message's raw header block (`msg.headers.raw`) so a
    header that repeats is not reduced to its last value."""

    async def _process_headers(self, headers: Any) -> Any:
        # One pass of our own instead of nats-py's (which costs more than the rest of a
        # direct-get reply's handling), giving the same keys.
        if not headers:
            return None
        return parse_for_client(bytes(headers))


@dataclass(frozen=True)
class ServerReply:
    """One reply to a request every server answers, and how long after the request it came."""

    payload: bytes
    rtt_seconds: float


def _is_status(msg: Any) -> bool:
    """A status-only reply: end of batch, no messages, an error."""
    return not msg.data and bool(msg.headers) and "Status" in msg.headers


class _Replies:
    """The replies to one request, in order, collected in the subscription callback (waking
    the requester once per round costs far less than a wake-up per message). `done` resolves
    at the first reply `complete` says ends the round; later ones are dropped, so the
    requester gets exactly the replies that completed it."""

    def __init__(self, complete: Callable[[Any], bool]) -> None:
        self.replies: list[Any] = []
        self.arrived_at: list[float] = []  # time.monotonic() of each reply
        self.complete = complete
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.arrived = asyncio.Event()

    def add(self, msg: Any) -> None:
        if self.done.done():
            return
        self.replies.append(msg)
        self.arrived_at.append(time.monotonic())
        self.arrived.set()
        if self.complete(msg):
            self.done.set_result(None)


class ClusterClient:
    """A live connection to one cluster, with JetStream request helpers.

    `key` names the cluster the same way in every process (the pool's key: the cluster's id),
    and `epochs` is where a change made through JetDeck is announced to every process
    (`epochs.bump(key)`) and where what a process cached for the cluster is checked against
    (`epochs.read(key)`): shared/streams/listing.py."""

    def __init__(
        self,
        label: str,
        nc: NATS,
        timeout: float,
        *,
        key: str | None = None,
        epochs: Epochs | None = None,
    ):
        self.label = label
        self.nc = nc
        self.timeout = timeout
        self.key = key if key is not None else label
        self.epochs: Epochs = epochs if epochs is not None else LocalEpochs()
        self.last_used = time.monotonic()
        self._batches: dict[str, _Replies] = {}
        self._batch_prefix: str | None = None
        self._batch_lock = asyncio.Lock()
        self._token = 0

    @property
    def connected(self) -> bool:
        """Up now (not closed, not reconnecting after losing its server)."""
        return bool(self.nc.is_connected)

    @property
    def server_info(self) -> dict[str, Any]:
        """The INFO of the server the connection is on (name, id, version, ...)."""
        return server_info(self.nc)

    def _closed(self) -> errors.Unavailable:
        return errors.Unavailable(
            f"The connection to cluster {self.label!r} is closed",
            code="cluster_unreachable",
            extra={"cluster": self.label},
        )

    def _unavailable_for_timeout(self, wait: float) -> errors.Unavailable:
        return errors.Unavailable(
            f"Cluster {self.label!r} did not answer within {wait:g}s",
            code="cluster_timeout",
            extra={"cluster": self.label},
        )

    async def _batch_inbox(self) -> str:
        # One wildcard subscription per connection serves every multi-reply request (like
        # nats-py's own muxed request inbox), so a browse costs one PUB, not SUB+PUB+UNSUB.
        if self._batch_prefix is None:
            async with self._batch_lock:
                if self._batch_prefix is None:
                    prefix = self.nc.new_inbox()

                    async def route(msg: Any) -> None:
                        pending = self._batches.get(msg.subject.rsplit(".", 1)[-1])
                        if pending is not None:
                            pending.add(msg)

                    await self.nc.subscribe(f"{prefix}.*", cb=route)
                    self._batch_prefix = prefix
        self._token += 1
        return f"{self._batch_prefix}.{self._token}"

    async def request_many(
        self,
        subject: str,
        payload: bytes = b"",
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-request bound, part of the API
        headers: list[tuple[str, str]] | None = None,
        first: bool = False,
    ) -> list[Any]:
        """Every reply to one request up to and including the first status-only reply (end of
        batch, no messages, an error), last in the list so the caller can read it. Used for
        batched direct gets: memory is one batch."""
        self.last_used = time.monotonic()
        wait = timeout or self.timeout
        inbox = await self._batch_inbox()
        token = inbox.rsplit(".", 1)[-1]
        pending = _Replies(lambda msg: first or _is_status(msg))
        self._batches[token] = pending
        try:
            await self._publish(subject, payload, reply=inbox, headers=headers)
            try:
                await asyncio.wait_for(asyncio.shield(pending.done), wait)
            except TimeoutError:
                raise self._unavailable_for_timeout(wait) from None
            return pending.replies
        finally:
            self._batches.pop(token, None)

    async def gather(
        self,
        subject: str,
        payload: bytes = b"",
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the round's deadline, part of the API
        quiet: float = 0.25,
        until: Callable[[Any], bool] | None = None,
        linger: float = 0.0,
    ) -> list[ServerReply]:
        """The replies to a request every server answers (a `$SYS` ping), in arrival order.

        Nobody says how many will answer, so the round ends at the first of: `until(msg)` is
        true for a reply (the caller knows every expected server answered), no reply came
        for `quiet` seconds after the last one, or `timeout` seconds after the request. An
        empty list when nothing answered (at once when nobody listens on `subject`).

        With `linger`, the round goes on after `until` was met while replies keep coming, each
        within `linger` seconds of the last: for servers `until` cannot count (a ping's
        servers without JetStream).
        """
        self.last_used = started = time.monotonic()
        deadline = started + (timeout or self.timeout)
        inbox = await self._batch_inbox()
        token = inbox.rsplit(".", 1)[-1]
        # With nobody subscribed the server answers at once with a status-only "503 no
        # responders": that ends the round, and is nobody's reply.
        ends = until if linger <= 0 else None  # when lingering, `until` is checked below
        pending = _Replies(lambda msg: _is_status(msg) or (ends is not None and ends(msg)))
        self._batches[token] = pending
        met, checked = False, 0
        try:
            sent = time.monotonic()  # each reply's round trip counts from here
            await self._publish(subject, payload, reply=inbox)
            while not pending.done.done():
                if until is not None and ends is None:
                    for msg in pending.replies[checked:]:
                        met = until(msg) or met  # once per reply: `until` may count them
                    checked = len(pending.replies)
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                answered = len(pending.replies)
                pending.arrived.clear()
                try:
                    # Before the first reply wait up to the deadline; after it, a quiet gap
                    # (a linger, once `until` was met).
                    gap = linger if met else quiet
                    await asyncio.wait_for(
                        pending.arrived.wait(), min(left, gap) if answered else left
                    )
                except TimeoutError:
                    if answered:
                        break
        finally:
            self._batches.pop(token, None)
        return [
            ServerReply(msg.data, at - sent)
            for msg, at in zip(pending.replies, pending.arrived_at, strict=True)
            if not _is_status(msg)
        ]

    async def _publish(
        self,
        subject: str,
        payload: bytes,
        *,
        reply: str = "",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        try:
            if headers:
                # nats-py takes headers as a dict (one value per name); repeats need the raw
                # header block, so write HPUB ourselves.
                from nats.protocol import command as prot_command

                hdr = encode_headers(headers)
                await self.nc._send_command(prot_command.hpub_cmd(subject, reply, hdr, payload))
                await self.nc._flush_pending()
            else:
                await self.nc.publish(subject, payload, reply=reply)
        except nats.errors.ConnectionClosedError:
            raise self._closed() from None

    async def request_with_headers(
        self,
        subject: str,
        payload: bytes,
        headers: list[tuple[str, str]],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-request bound, part of the API
    ) -> Any:
        """A request whose headers may repeat a name; the one reply."""
        replies = await self.request_many(
            subject, payload, headers=headers, timeout=timeout, first=True
        )
        msg = replies[0]
        if msg.headers and msg.headers.get("Status") == "503" and not msg.data:
            raise errors.Unavailable(
                f"Nothing on cluster {self.label!r} stores messages on {subject!r}",
                code="no_stream_for_subject",
                extra={"cluster": self.label},
            )
        return msg

    async def rtt(self) -> float:
        """Seconds of one PING/PONG with the server the connection is on."""
        self.last_used = time.monotonic()
        try:
            return float(await self.nc.rtt(timeout=max(1, round(self.timeout))))
        except (TimeoutError, NatsTimeout):
            raise self._unavailable_for_timeout(self.timeout) from None
        except nats.errors.ConnectionClosedError:
            raise self._closed() from None

    async def request_raw(
        self,
        subject: str,
        payload: bytes = b"",
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-request bound, part of the API
        headers: dict[str, str] | None = None,
    ) -> Any:
        """A core NATS request (no decoding); errors become domain errors naming the cluster."""
        self.last_used = time.monotonic()
        wait = timeout or self.timeout
        try:
            return await self.nc.request(subject, payload, timeout=wait, headers=headers)
        except NoRespondersError:
            raise errors.Unavailable(
                f"Nothing on cluster {self.label!r} answers {subject.split('.')[0:3]!r}: "
                "is JetStream enabled for this account?",
                code="jetstream_not_enabled",
                extra={"cluster": self.label},
            ) from None
        except (TimeoutError, NatsTimeout):
            raise self._unavailable_for_timeout(wait) from None
        except nats.errors.ConnectionClosedError:
            raise self._closed() from None

    async def js(
        self,
        api: str,
        body: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """`$JS.API.<api>` with a JSON body; the decoded reply, or a domain error."""
        payload = _encode.encode(body) if body is not None else b""
        reply = await self.request_raw(f"{API}.{api}", payload, timeout=timeout)
        data = _json.decode(reply.data) if reply.data else {}
        if not isinstance(data, dict):
            raise errors.Invalid(f"Unexpected JetStream reply to {api}", code="nats_bad_reply")
        if data.get("error"):
            raise domain_error(data["error"], cluster=self.label)
        return data

    async def js_paged(
        self,
        api: str,
        key: str,
        body: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-request bound, part of the API
    ) -> AsyncIterator[Any]:
        """Every item of a JetStream list, page after page until `total` (a page is 256)."""
        offset = 0
        while True:
            page = await self.js(api, {**(body or {}), "offset": offset}, timeout=timeout)
            items = page.get(key) or []
            for item in items:
                yield item
            offset += len(items)
            if not items or offset >= int(page.get("total") or 0):
                return

    async def close(self) -> None:
        if self.nc.is_closed:
            return
        try:
            await self.nc.close()
        except Exception as exc:  # a connection whose server is gone cannot flush: it is closed
            log.debug("closing the connection to %s: %s", self.label, type(exc).__name__)


class ConnectionPool:
    """One connection per cluster per process (per event loop), closed when idle.

    Connecting never queues: requests for a cluster that is not connected share one connect
    attempt (a future), each waiting at most the request timeout, and the attempt itself is
    bounded by it too. A failed attempt is remembered for `failure_seconds`, so requests for an
    unreachable cluster answer 503 at once meanwhile instead of each trying again. Other
    clusters are never held up: nothing is locked while connecting.

    `epochs` (shared/epochs.py) is handed to every client: Redis-backed in a deployment, so
    what one process changes on a cluster invalidates what every process cached for it.
    """

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        idle_seconds: float = IDLE_SECONDS,
        connect_timeout: float = 5.0,
        failure_seconds: float = FAILURE_SECONDS,
        pin: Callable[[ConnectionSpec, str], Awaitable[ConnectionSpec]] | None = None,
        host_allowed: Callable[[str], bool] | None = None,
        epochs: Epochs | None = None,
        randomize: bool = True,
    ):
        self.timeout = timeout
        self.randomize = randomize  # try a cluster's servers in random order (else as listed)
        self.epochs: Epochs = epochs if epochs is not None else LocalEpochs()
        # Checks where a connection may go and pins it there, at every connect (the cluster
        # address policy, shared/clusters/addresses.py).
        self.pin = pin
        # Servers a cluster advertises (INFO `connect_urls`) at addresses the policy refuses
        # are dropped from nats-py's reconnect list as they arrive.
        self.host_allowed = host_allowed
        self.idle_seconds = idle_seconds
        self.connect_timeout = connect_timeout
        self.failure_seconds = failure_seconds
        self._clients: dict[str, tuple[str, ClusterClient]] = {}
        # key → (fingerprint, the attempt in flight)
        self._connecting: dict[str, tuple[str, asyncio.Task[ClusterClient]]] = {}
        # key → (fingerprint, when it failed, the error)
        self._failures: dict[str, tuple[str, float, errors.Unavailable]] = {}

    async def client(
        self, key: str, spec: ConnectionSpec, *, label: str | None = None
    ) -> ClusterClient:
        """The live client for cluster `key`; (re)connects when missing, closed or changed.
        Raises `Unavailable` within the request timeout when the cluster cannot be reached."""
        await self.close_idle(except_key=key)
        fingerprint = spec.fingerprint()
        current = self._clients.get(key)
        if current and current[0] == fingerprint and not current[1].nc.is_closed:
            current[1].last_used = time.monotonic()
            return current[1]
        failed = self._failures.get(key)
        if failed and failed[0] == fingerprint:
            if time.monotonic() - failed[1] < self.failure_seconds:
                raise failed[2]
            self._failures.pop(key, None)
        attempt = self._connecting.get(key)
        if attempt is None or attempt[0] != fingerprint:
            task = asyncio.create_task(self._connect_client(key, spec, label or key, fingerprint))
            task.add_done_callback(_retrieved)  # every waiter may have given up on it
            attempt = (fingerprint, task)
            self._connecting[key] = attempt
        try:
            # shield: one waiter giving up (its request cancelled) never ends the attempt.
            return await asyncio.wait_for(asyncio.shield(attempt[1]), self.timeout)
        except TimeoutError:
            raise self._timed_out(label or key) from None

    def _timed_out(self, label: str) -> errors.Unavailable:
        return errors.Unavailable(
            f"Cannot connect to cluster {label!r}: no answer within {self.timeout:g}s",
            code="cluster_unreachable",
            extra={"cluster": label},
        )

    async def _connect_client(
        self, key: str, spec: ConnectionSpec, label: str, fingerprint: str
    ) -> ClusterClient:
        """The one connect attempt for `key`, bounded by the request timeout."""
        try:
            current = self._clients.pop(key, None)
            if current:
                await current[1].close()
            try:
                nc = await asyncio.wait_for(self.connect(spec, label), self.timeout)
            except TimeoutError:
                raise self._timed_out(label) from None
            client = ClusterClient(label, nc, self.timeout, key=key, epochs=self.epochs)
            self._clients[key] = (fingerprint, client)
            self._failures.pop(key, None)
            return client
        except errors.Unavailable as exc:
            self._failures[key] = (fingerprint, time.monotonic(), exc)
            raise
        finally:
            if self._connecting.get(key, (None, None))[1] is asyncio.current_task():
                self._connecting.pop(key, None)

    async def connect(self, spec: ConnectionSpec, label: str) -> NATS:
        """A new connection that, once up, keeps reconnecting across the cluster's servers.

        nats-py's first connect retries forever when reconnecting is unlimited, and without
        reconnecting it gives up at the first server that accepts the TCP connection but never
        sends INFO. So the first connect walks the servers itself, in random order (as nats-py
        would: processes spread over the servers; `randomize=False`: as listed), one at a time,
        within the request timeout: each server gets an equal share of what is left (at most
        `connect_timeout`), a refused, silent or failing server is skipped, and an auth or TLS
        failure ends the walk at once with its reason (every server of a cluster would say the
        same). Only the live connection is given every server and switched to reconnect
        without limit.
        """
        if self.pin is not None:
            spec = await self.pin(spec, label)
        try:
            base = spec.connect_options()
        except CredentialsError as exc:
            raise connection_error(exc, label, spec=spec) from None
        servers = list(spec.servers)
        if self.randomize:
            random.shuffle(servers)  # spreading processes over the servers, as nats-py does
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        failures: list[errors.Unavailable] = []  # why each server failed, in order
        for i, server in enumerate(servers):
            share = min(self.connect_timeout, (deadline - loop.time()) / (len(servers) - i))
            if share <= 0:
                break
            try:
                nc = await self._connect_to(server, base, share, spec, label)
            except errors.Unavailable as failed:
                if failed.code in ("cluster_auth_failed", "cluster_tls_failed"):
                    raise
                failures.append(failed)
                continue
            nc._error_cb = _quiet_error
            _add_servers(nc, [s for s in servers if s != server])  # for reconnecting
            await self._drop_refused_servers(nc)  # those the first INFO advertised
            # Read by nats-py whenever the connection drops (client.py `_process_op_err`,
            # `_select_next_server`).
            nc.options.update(
                allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.5
            )
            return nc
        # The latest server's reason unless an earlier one says more than "unreachable".
        latest = [*reversed(failures)] or [connection_error(TimeoutError(), label, spec=spec)]
        specific = [e for e in latest if e.code != "cluster_unreachable"]
        raise (specific or latest)[0]

    async def _connect_to(
        self,
        server: str,
        base: dict[str, Any],
        seconds: float,
        spec: ConnectionSpec,
        label: str,
    ) -> NATS:
        """A connection to `server` alone within `seconds`, or `Unavailable` saying why."""
        nc = RawHeaderClient()
        seen: list[BaseException] = []

        async def remember(exc: Exception) -> None:
            seen.append(exc)
            await _quiet_error(exc)

        async def drop_refused_servers() -> None:
            await self._drop_refused_servers(nc)

        options: dict[str, Any] = {
            **base,
            "servers": [server],
            "dont_randomize": True,
            "discovered_server_cb": drop_refused_servers,
            "connect_timeout": seconds,  # nats-py takes float seconds, for each step
            "allow_reconnect": False,
            "max_reconnect_attempts": 1,
            "reconnect_time_wait": 0.05,
            "error_cb": remember,
        }
        try:
            async with asyncio.timeout(seconds):  # the steps together, too
                await nc.connect(**options)
        except asyncio.CancelledError:
            # Given up on (the request timeout): leave nothing behind reconnecting.
            await _close_quietly(nc)
            raise
        except Exception as exc:
            # "no servers" hides why the server failed; the error callback saw the causes.
            # The most telling one wins: a server that refuses a client certificate sends a
            # TLS alert and closes, and "connection lost" may be reported after the alert.
            # The latest first when no cause says more than "unreachable".
            latest = [*reversed(seen)]
            causes = latest if isinstance(exc, nats.errors.NoServersError) else [exc, *latest]
            found = [connection_error(c, label, spec=spec) for c in causes or [exc]]
            specific = [e for e in found if e.code != "cluster_unreachable"]
            # Release the socket; bounded, as closing a transport whose TLS handshake failed
            # may wait for ever.
            await _close_quietly(nc, within=CLOSE_SECONDS)
            raise (specific or found)[0] from None
        return nc

    async def _drop_refused_servers(self, nc: NATS) -> None:
        """Servers a cluster advertises at addresses the policy refuses leave the pool."""
        if self.host_allowed is not None:
            allowed = self.host_allowed
            nc._server_pool = [
                srv
                for srv in nc._server_pool
                if not srv.discovered or allowed(srv.uri.hostname or "")
            ]

    async def forget(self, key: str) -> None:
        self._failures.pop(key, None)
        entry = self._clients.pop(key, None)
        if entry:
            await entry[1].close()

    async def close_idle(self, except_key: str | None = None) -> int:
        """Close connections unused for `idle_seconds`; return how many were closed. The app
        calls this on a clock, so an idle connection closes even if the pool is not used."""
        now = time.monotonic()
        closed = 0
        for key, (_, client) in list(self._clients.items()):
            if key != except_key and now - client.last_used > self.idle_seconds:
                self._clients.pop(key, None)
                await client.close()
                closed += 1
        return closed

    async def close(self) -> None:
        for _, task in list(self._connecting.values()):
            task.cancel()
        self._connecting.clear()
        for _, client in list(self._clients.values()):
            await client.close()
        self._clients.clear()


def _add_servers(nc: NATS, urls: list[str]) -> None:
    """Add the cluster's other configured servers to a live connection's reconnect pool (it
    was made with one server), skipping those INFO advertised already."""
    known = {(srv.uri.hostname, srv.uri.port) for srv in nc._server_pool}
    for url in urls:
        before = len(nc._server_pool)
        nc._setup_server_pool([url])
        added = nc._server_pool[before:]
        if added and (added[0].uri.hostname, added[0].uri.port) in known:
            del nc._server_pool[before:]
        else:
            known.update((srv.uri.hostname, srv.uri.port) for srv in added)


def server_info(nc: NATS) -> dict[str, Any]:
    """The INFO the connected server sent (nats-py keeps it, but only privately: this is the
    one place JetDeck reads it)."""
    return dict(nc._server_info or {})


def _retrieved(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def _close_quietly(nc: NATS, *, within: float | None = None) -> None:
    """Close a connection given up on; shielded (the caller is being cancelled), or given up
    on after `within` seconds."""
    try:
        if within is None:
            await asyncio.shield(nc.close())
        else:
            await asyncio.wait_for(nc.close(), within)
    except Exception as exc:
        log.debug("closing an abandoned connection: %s", type(exc).__name__)


async def _quiet_error(exc: Exception) -> None:
    log.debug("nats connection event: %s", type(exc).__name__)


def connection_error(
    exc: BaseException, label: str, *, spec: ConnectionSpec | None = None
) -> errors.Unavailable:
    """Why a connection failed, in words a user can act on. With the `spec` that was tried,
    a silent TLS server is told apart by its `handshake_first` setting."""
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    tls = spec.tls if spec is not None else None
    if isinstance(exc, CredentialsError):
        reason, code = f"authentication failed: {text}", "cluster_auth_failed"
    elif "authorization" in lowered or "authentication" in lowered or "permissions" in lowered:
        reason, code = "authentication failed", "cluster_auth_failed"
    elif "expecting info" in lowered:
        # The server said nothing after the TCP connect: a server that wants the TLS
        # handshake first waits for the client's, silently.
        if tls is not None and not tls.handshake_first:
            reason = (
                "TLS failed (the server sent no INFO: it expects the TLS handshake first; "
                "turn on handshake_first)"
            )
            code = "cluster_tls_failed"
        else:
            reason, code = "the server sent no INFO (is it a NATS server?)", "cluster_unreachable"
    elif "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
        reason, code = f"TLS failed ({text})", "cluster_tls_failed"
    elif tls is not None and (
        "connection reset" in lowered or "broken pipe" in lowered or "connection lost" in lowered
    ):
        # With TLS 1.3 a client finishes its handshake before the server checks the client
        # certificate: a refused certificate often surfaces as the server hanging up.
        wanted = (
            "it may not accept the client certificate sent"
            if tls.cert_pem
            else "it may require a client certificate, and none is set"
        )
        reason = f"TLS failed (the server closed the connection after the TLS handshake: {wanted})"
        code = "cluster_tls_failed"
    elif (
        "name or service not known" in lowered or "nodename" in lowered or "getaddrinfo" in lowered
    ):
        reason, code = "the server name does not resolve (DNS)", "cluster_dns_failed"
    elif "refused" in lowered or isinstance(exc, nats.errors.NoServersError):
        reason, code = "connection refused by every server", "cluster_unreachable"
    elif isinstance(exc, asyncio.TimeoutError | TimeoutError):
        reason, code = "connection timed out", "cluster_unreachable"
        if tls is not None and tls.handshake_first:
            reason += (
                " (handshake_first is on: a server that sends INFO first never answers the"
                " TLS handshake; turn handshake_first off unless the server requires it)"
            )
    else:
        reason, code = text, "cluster_unreachable"
    return errors.Unavailable(
        f"Cannot connect to cluster {label!r}: {reason}", code=code, extra={"cluster": label}
    )
