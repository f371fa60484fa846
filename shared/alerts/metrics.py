"""The metrics a rule may watch, read from one cycle's samples (the numbers the charts show).

Each metric belongs to a target kind; `observe` yields one `Observation` per target of that
kind in the cycle. A value of None means "no data for this target this cycle" (the time lag
of a consumer whose first unacknowledged message was not read, a rate on the first cycle):
the alert then keeps its state (see `evaluation.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from shared.metrics.samples import Collection

METRICS: dict[str, str] = {
    "consumer.num_pending": "consumer",
    "consumer.num_ack_pending": "consumer",
    "consumer.ack_pending_ratio": "consumer",
    "consumer.num_redelivered": "consumer",
    "consumer.num_waiting": "consumer",
    "consumer.time_lag_seconds": "consumer",
    "consumer.time_to_drain_seconds": "consumer",
    "consumer.inactive_seconds": "consumer",
    "consumer.missing": "consumer",
    "stream.messages": "stream",
    "stream.bytes": "stream",
    "stream.usage_ratio": "stream",
    "stream.ingest_rate": "stream",
    "stream.ingest_rate_change": "stream",
    "stream.missing": "stream",
    "account.storage_ratio": "account",
    "account.memory_ratio": "account",
    "server.unreachable": "server",
    "cluster.unreachable": "cluster",
}
# Metrics that need the previous cycle's figures (kept in `alert_evaluated_cycles.previous`).
RATE_METRICS = frozenset(
    {"stream.ingest_rate", "stream.ingest_rate_change", "consumer.time_to_drain_seconds"}
)
OPERATORS = (">", ">=", "<", "<=", "==")


def compare(value: float, op: str, threshold: float) -> bool:
    if op == ">":
        return value > threshold
    if op == ">=":
        return value >= threshold
    if op == "<":
        return value < threshold
    if op == "<=":
        return value <= threshold
    return value == threshold


def has_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def matches(pattern: str | None, name: str | None) -> bool:
    """Absent or `*` matches everything; otherwise a case-sensitive shell glob."""
    if pattern is None or pattern in ("", "*"):
        return True
    return name is not None and fnmatchcase(name, pattern)


@dataclass
class Observation:
    key: str  # unique within a cluster: "" / "server:x" / "account:x" / "S" / "S/C"
    target: dict[str, Any]
    value: float | None
    threshold: float | None = None  # a metadata rule's own threshold
    firing: bool | None = None  # a metadata rule's verdict (None: decide by op/threshold)
    detail: str | None = None


@dataclass
class Cycle:
    """What one evaluation sees of one cluster: its samples (None when the cluster could
    not be collected) and the previous cycle's figures for rates."""

    cluster_id: str
    cluster_name: str
    ts: datetime
    collection: Collection | None
    previous: dict[str, Any] = field(default_factory=dict)

    @property
    def reachable(self) -> bool:
        return self.collection is not None

    def target(self, **parts: str) -> dict[str, Any]:
        return {"cluster": self.cluster_name, **parts}


def _ratio(used: float, limit: float) -> float | None:
    return used / limit if limit and limit > 0 else None


def observe(cycle: Cycle, metric: str, scope: dict[str, Any]) -> Iterator[Observation]:
    """Every target of `metric`'s kind in the cycle, filtered by the rule's scope."""
    kind = METRICS[metric]
    name = metric.split(".", 1)[1]
    if kind == "cluster":
        yield Observation("", cycle.target(), 0.0 if cycle.reachable else 1.0)
        return
    c = cycle.collection
    if c is None:
        return
    value: float | None
    if kind == "server":
        for server in c.servers:
            if server.server:
                yield Observation(
                    f"server:{server.server}",
                    cycle.target(server=server.server),
                    0.0 if server.reachable else 1.0,
                )
        return
    if kind == "account":
        for account in c.accounts:
            if name == "storage_ratio":
                value = _ratio(account.storage_used, account.storage_limit)
            else:
                value = _ratio(account.memory_used, account.memory_limit)
            yield Observation(
                f"account:{account.account}", cycle.target(account=account.account), value
            )
        return
    stream_glob, consumer_glob = scope.get("stream"), scope.get("consumer")
    if kind == "stream":
        seen = set()
        previous = cycle.previous.get("streams", {})
        for s in c.streams:
            if not matches(stream_glob, s.stream):
                continue
            seen.add(s.stream)
            if name == "messages":
                value = float(s.messages)
            elif name == "bytes":
                value = float(s.bytes)
            elif name == "usage_ratio":
                ratios = [
                    r
                    for r in (_ratio(s.bytes, s.max_bytes), _ratio(s.messages, s.max_msgs))
                    if r is not None
                ]
                value = max(ratios) if ratios else None
            elif name in ("ingest_rate", "ingest_rate_change"):
                rate = stream_rate(cycle, s.stream, s.last_seq)
                if name == "ingest_rate":
                    value = rate
                else:
                    before = (previous.get(s.stream) or [None, None, None])[2]
                    value = rate - before if rate is not None and before is not None else None
            else:  # missing
                value = 0.0
            yield Observation(s.stream, cycle.target(stream=s.stream), value)
        if (
            name == "missing"
            and stream_glob
            and not has_glob(stream_glob)
            and stream_glob not in seen
        ):
            yield Observation(stream_glob, cycle.target(stream=stream_glob), 1.0)
        return
    # consumers
    seen_c = set()
    previous_c = cycle.previous.get("consumers", {})
    for cs in c.consumers:
        if not (matches(stream_glob, cs.stream) and matches(consumer_glob, cs.consumer)):
            continue
        key = f"{cs.stream}/{cs.consumer}"
        seen_c.add(key)
        backlog = cs.num_pending + cs.num_ack_pending
        if name == "ack_pending_ratio":
            value = _ratio(cs.num_ack_pending, cs.max_ack_pending)
        elif name == "time_lag_seconds":
            value = cs.time_lag_seconds
        elif name == "time_to_drain_seconds":
            value = _time_to_drain(cycle, previous_c.get(key), backlog)
        elif name == "inactive_seconds":
            value = (cycle.ts - cs.last_active).total_seconds() if cs.last_active else None
        elif name == "missing":
            value = 0.0
        else:
            value = float(getattr(cs, name))
        yield Observation(key, cycle.target(stream=cs.stream, consumer=cs.consumer), value)
    if (
        name == "missing"
        and stream_glob
        and consumer_glob
        and not has_glob(stream_glob)
        and not has_glob(consumer_glob)
        and f"{stream_glob}/{consumer_glob}" not in seen_c
    ):
        yield Observation(
            f"{stream_glob}/{consumer_glob}",
            cycle.target(stream=stream_glob, consumer=consumer_glob),
            1.0,
        )


def stream_rate(cycle: Cycle, stream: str, last_seq: int) -> float | None:
    """Messages per second since the previous cycle (None on the first cycle or after a
    purge/recreation moved the sequence backwards)."""
    before = cycle.previous.get("streams", {}).get(stream)
    if not before:
        return None
    ts, seq = before[0], before[1]
    elapsed = cycle.ts.timestamp() - ts
    if elapsed <= 0 or last_seq < seq:
        return None
    return (last_seq - seq) / elapsed


def _time_to_drain(cycle: Cycle, before: list[float] | None, backlog: int) -> float | None:
    """Backlog / net drain rate, as the chart computes it; None while it is not shrinking
    (and 0 once there is no backlog)."""
    if backlog == 0:
        return 0.0
    if not before:
        return None
    elapsed = cycle.ts.timestamp() - before[0]
    shrink = (before[1] - backlog) / elapsed if elapsed > 0 else 0
    return backlog / shrink if shrink > 0 else None


def next_previous(cycle: Cycle) -> dict[str, Any]:
    """The figures the next cycle's rates are computed from."""
    c = cycle.collection
    if c is None:
        return cycle.previous
    ts = cycle.ts.timestamp()
    streams = {}
    for s in c.streams:
        streams[s.stream] = [ts, s.last_seq, stream_rate(cycle, s.stream, s.last_seq)]
    consumers = {
        f"{s.stream}/{s.consumer}": [ts, s.num_pending + s.num_ack_pending] for s in c.consumers
    }
    return {"streams": streams, "consumers": consumers}
