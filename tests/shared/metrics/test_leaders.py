"""Each stream and consumer is taken from its leader's JSZ report, whatever the reply order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from shared.metrics.collector import apply_jsz
from shared.metrics.reports import JszReply
from shared.metrics.samples import Collection


def _reply(server: str, leader: str | None, ack_floor: int) -> JszReply:
    consumer: dict[str, Any] = {
        "stream_name": "EVENTS",
        "name": "READER",
        "ack_floor": {"consumer_seq": ack_floor, "stream_seq": ack_floor},
        "cluster": {"name": "c", "leader": leader} if leader is not None else {"name": "c"},
    }
    payload = {
        "server": {"name": server, "id": server.upper(), "ver": "2.11.0"},
        "data": {
            "meta_cluster": {"name": "c", "leader": "n1", "cluster_size": 3},
            "account_details": [
                {
                    "name": "APP",
                    "stream_detail": [
                        {
                            "name": "EVENTS",
                            "cluster": consumer["cluster"],
                            "state": {"messages": ack_floor},
                            "consumer_detail": [consumer],
                        }
                    ],
                }
            ],
        },
    }
    return msgspec.json.decode(msgspec.json.encode(payload), type=JszReply)


@pytest.mark.parametrize(
    "order",
    [("n1", "n2", "n3"), ("n3", "n2", "n1"), ("n2", "n1", "n3")],
    ids=["leader-first", "leader-last", "leader-middle"],
)
def test_the_leaders_figures_win_over_followers_and_replicas_naming_no_leader(order) -> None:
    # n1 leads (ack floor 3); n2 is a follower behind (2); n3 names no leader yet (1).
    reports = {
        "n1": _reply("n1", "n1", 3),
        "n2": _reply("n2", "n1", 2),
        "n3": _reply("n3", None, 1),
    }
    collection = Collection("org", "cluster", datetime.now(UTC))

    apply_jsz(collection, [(reports[name], 0.001) for name in order])

    assert [c.ack_floor_consumer_seq for c in collection.consumers] == [3]
    assert [s.messages for s in collection.streams] == [3]


def test_without_a_leader_report_a_replica_naming_none_beats_a_follower() -> None:
    collection = Collection("org", "cluster", datetime.now(UTC))

    apply_jsz(collection, [(_reply("n2", "n1", 2), 0.001), (_reply("n3", None, 1), 0.001)])

    assert [c.ack_floor_consumer_seq for c in collection.consumers] == [1]
