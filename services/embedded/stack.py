"""The embedded stack's servers and the files it keeps under the data dir.

<data_dir>/secrets.json     keys and passwords generated on first start (mode 0600)
<data_dir>/ports.json       loopback ports chosen on first start, reused while free
<data_dir>/instance.json    how to reach the running instance (other `jetdeck` commands)
<data_dir>/nats/ postgres/ redis/ clickhouse/   the servers' data
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from services.embedded.nats import APP_USER, SYSTEM_USER, NatsDeployment
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.process import free_port, port_is_free
from services.embedded.redis import EmbeddedRedis

log = logging.getLogger("jetdeck.embedded")

DATABASE_NAME = "jetdeck"


class AlreadyRunning(RuntimeError):
    pass


def _write_private(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    tmp.replace(path)


def load_or_create_secrets(data_dir: Path) -> dict[str, str]:
    path = data_dir / "secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    generated = {
        "secret_key": secrets.token_urlsafe(48),
        "encryption_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "nats_app_password": secrets.token_urlsafe(24),
        "nats_system_password": secrets.token_urlsafe(24),
    }
    _write_private(path, generated)
    return generated


def load_or_choose_ports(data_dir: Path, names: tuple[str, ...]) -> dict[str, int]:
    """Keep each server on the port it had, unless something else took it meanwhile."""
    path = data_dir / "ports.json"
    saved: dict[str, int] = json.loads(path.read_text()) if path.exists() else {}
    ports = {}
    for name in names:
        port = saved.get(name)
        ports[name] = port if port and port_is_free(port) else free_port()
    if ports != saved:
        _write_private(path, ports)
    return ports


def read_instance(data_dir: Path) -> dict[str, Any] | None:
    """The running instance using this data dir, or None."""
    path = data_dir / "instance.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    try:
        os.kill(int(info["pid"]), 0)
    except (OSError, KeyError, ValueError):
        return None
    return dict(info)


class EmbeddedStack:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir.resolve()
        self.nats: NatsDeployment | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None
        self._lock_file: Any = None
        self.secrets: dict[str, str] = {}

    def _lock(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.data_dir / "jetdeck.lock", "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            running = read_instance(self.data_dir)
            where = f" at {running['url']} (pid {running['pid']})" if running else ""
            raise AlreadyRunning(
                f"JetDeck is already running with data dir {self.data_dir}{where}"
            ) from None

    def start(self) -> dict[str, str]:
        """Start the servers; return the environment that points JetDeck at them."""
        self._lock()
        self.secrets = load_or_create_secrets(self.data_dir)
        ports = load_or_choose_ports(self.data_dir, ("nats", "postgres", "redis"))
        try:
            self.nats = NatsDeployment.plan(
                self.data_dir / "nats",
                size=1,
                ports=[ports["nats"]],
                app_password=self.secrets["nats_app_password"],
                system_password=self.secrets["nats_system_password"],
            )
            self.nats.start()
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres", ports["postgres"]).start()
            self.postgres.ensure_database(DATABASE_NAME)
            self.redis = EmbeddedRedis(self.data_dir / "redis", ports["redis"]).start()
        except BaseException:
            self.stop()
            raise
        return {
            "JETDECK_EMBEDDED": "true",
            "JETDECK_DATA_DIR": str(self.data_dir),
            "JETDECK_SECRET_KEY": self.secrets["secret_key"],
            "JETDECK_ENCRYPTION_KEY": self.secrets["encryption_key"],
            "JETDECK_DATABASE_URL": self.postgres.url(DATABASE_NAME),
            "JETDECK_REDIS_URL": self.redis.url,
            "JETDECK_CLICKHOUSE_URL": f"chdb://{self.data_dir / 'clickhouse'}",
        }

    @property
    def nats_credentials(self) -> dict[str, Any]:
        assert self.nats is not None
        return {
            "servers": self.nats.urls,
            "user": APP_USER,
            "password": self.secrets["nats_app_password"],
            "system_user": SYSTEM_USER,
            "system_password": self.secrets["nats_system_password"],
        }

    def publish_instance(self, url: str, env: dict[str, str]) -> None:
        """Tell other `jetdeck` commands on this data dir how to reach this instance."""
        _write_private(
            self.data_dir / "instance.json",
            {
                "pid": os.getpid(),
                "url": url,
                "database_url": env["JETDECK_DATABASE_URL"],
                "redis_url": env["JETDECK_REDIS_URL"],
                "nats": self.nats_credentials["servers"],
            },
        )

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "instance.json").unlink()
        for server in (self.redis, self.postgres, self.nats):
            if server is not None:
                try:
                    server.stop()
                except Exception:  # keep stopping the others
                    log.exception("stopping %s failed", type(server).__name__)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
