"""One client factory for ClickHouse: a server over HTTP(S) or chDB in-process.

clickhouse-connect serves both behind the same client (`http://…:8123` or `chdb:///path`).
Its client is synchronous, so every call runs in a worker thread and the event loop never
blocks. chDB allows one engine per data path in a process, so chDB clients are shared per
path and their calls serialised.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
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


class ClickHouse:
    """Async façade over a clickhouse-connect client, bound to JetDeck's database."""

    def __init__(self, url: str, database: str = "jetdeck"):
        self.url = url
        self.database = database
        self.embedded = url.startswith("chdb:")
        self._client: Client | None = None
        self._lock: threading.Lock | None = None

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

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            client, lock = self._connect()
            if self.embedded:
                with lock:
                    return getattr(client, method)(*args, **kwargs)
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
        result = await asyncio.to_thread(self._call, "query", sql, parameters=parameters)
        return list(result.result_rows)

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
