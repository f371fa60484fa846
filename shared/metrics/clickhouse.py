"""One client factory for ClickHouse: a server over HTTP(S) or chDB in-process.

clickhouse-connect serves both behind the same client (`http://…:8123` or `chdb:///path`).
Its client is synchronous, so every call runs in a worker thread and the event loop never
blocks. chDB allows one engine per data path in a process, so chDB clients are shared per
path and their calls serialised.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from shared.errors import Unavailable

_chdb_clients: dict[str, tuple[Client, threading.Lock]] = {}
_chdb_guard = threading.Lock()


def _chdb_location(url: str) -> str:
    return url.removeprefix("chdb://")


class _SharedQuery:
    """One read that concurrent identical reads may join until it begins (`started`, set by
    the worker thread once it holds chDB's lock)."""

    def __init__(self) -> None:
        self.started = False

    def start(self) -> None:
        self.started = True


class ClickHouse:
    """Async façade over a clickhouse-connect client, bound to JetDeck's database."""

    def __init__(self, url: str, database: str = "jetdeck"):
        self.url = url
        self.database = database
        self.embedded = url.startswith("chdb:")
        self._client: Client | None = None
        self._lock: threading.Lock | None = None
        # Reads not begun yet, which identical reads may join.
        self._queries: dict[
            tuple[asyncio.AbstractEventLoop, str, str], tuple[_SharedQuery, asyncio.Future[Any]]
        ] = {}

    def _connect(self) -> tuple[Client, threading.Lock]:
        if self._client is not None and self._lock is not None:
            return self._client, self._lock
        with _chdb_guard:  # calls arrive from several threads at once: create one client
            if self._client is not None and self._lock is not None:
                return self._client, self._lock
            if self.embedded:
                location = _chdb_location(self.url)
                if location not in _chdb_clients:
                    _chdb_clients[location] = (
                        clickhouse_connect.get_client(dsn=self.url),
                        threading.Lock(),
                    )
                self._client, self._lock = _chdb_clients[location]
            else:
                parts = urlsplit(self.url)
                # No server-side session: queries from concurrent requests share this client,
                # and ClickHouse refuses concurrent queries in one session.
                self._client = clickhouse_connect.get_client(
                    dsn=self.url,
                    connect_timeout=5,
                    send_receive_timeout=30,
                    secure=parts.scheme == "https",
                    autogenerate_session_id=False,
                )
                # Unused for HTTP: only chDB calls are serialised.
                self._lock = threading.Lock()
        return self._client, self._lock

    def _call(
        self,
        method: str,
        *args: Any,
        _started: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> Any:
        try:
            client, lock = self._connect()
            if self.embedded:
                with lock:
                    if _started is not None:
                        _started()
                    return getattr(client, method)(*args, **kwargs)
            if _started is not None:
                _started()
            return getattr(client, method)(*args, **kwargs)
        except ClickHouseError as exc:
            if "Connection" in type(exc).__name__ or "connect" in str(exc).lower():
                raise Unavailable(
                    f"ClickHouse is unreachable: {exc}", code="clickhouse_unavailable"
                ) from exc
            raise
        except OSError as exc:
            raise Unavailable(
                f"ClickHouse is unreachable: {exc}", code="clickhouse_unavailable"
            ) from exc

    async def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        return await asyncio.to_thread(self._call, "command", sql, parameters=parameters)

    async def query(
        self, sql: str, parameters: dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of a read. Identical reads share one query while it has not begun (chDB
        runs one query at a time, so under load identical chart reads queue up): a request
        never gets rows read before it arrived."""
        # Per event loop: a worker process may run actors on several.
        key = (asyncio.get_running_loop(), sql, repr(sorted((parameters or {}).items())))
        joined = self._queries.get(key)
        if joined is None or joined[0].started:
            shared = _SharedQuery()
            task = asyncio.ensure_future(
                asyncio.to_thread(
                    self._call, "query", sql, parameters=parameters, _started=shared.start
                )
            )
            joined = self._queries[key] = (shared, task)
            task.add_done_callback(lambda _: self._forget(key, shared))
        result = await asyncio.shield(joined[1])
        return list(result.result_rows)

    def _forget(
        self, key: tuple[asyncio.AbstractEventLoop, str, str], shared: _SharedQuery
    ) -> None:
        if key in self._queries and self._queries[key][0] is shared:
            del self._queries[key]

    async def insert(
        self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]
    ) -> None:
        if rows:
            await asyncio.to_thread(
                self._call,
                "insert",
                table,
                list(rows),
                column_names=list(column_names),
                database=self.database,
            )

    async def ping(self) -> None:
        await self.query("SELECT 1")

    def close(self) -> None:
        # Shared chDB engines live as long as the process; HTTP clients close their pool.
        if self._client is not None and not self.embedded:
            self._client.close()
        self._client = None
