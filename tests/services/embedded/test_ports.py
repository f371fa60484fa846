"""Ports for the servers JetDeck and the tests start: free, never handed out twice, and
outside the range the kernel gives outgoing connections (which could take a port between the
choice and the server's own bind: "address already in use", as CI once saw)."""

from __future__ import annotations

import socket

import pytest

from services.embedded import process
from services.embedded.process import PORTS_FROM, _ephemeral_range, free_port, port_is_free


def test_ports_are_free_distinct_and_below_the_ephemeral_range() -> None:
    low, _ = _ephemeral_range()
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(PORTS_FROM <= p < low for p in ports), ports
    assert all(port_is_free(p) for p in ports)


def test_a_port_something_listens_on_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    low, _ = _ephemeral_range()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        busy = next(p for p in range(low - 1, PORTS_FROM, -1) if port_is_free(p))
        taken.bind(("127.0.0.1", busy))
        taken.listen()
        spare = next(p for p in range(busy - 1, PORTS_FROM, -1) if port_is_free(p))
        offered = iter([busy, spare])
        monkeypatch.setattr(process.secrets, "choice", lambda _: next(offered))
        assert free_port() == spare
