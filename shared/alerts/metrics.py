"""The metrics a rule may watch, read from one cycle's samples (the numbers the charts show).

Each metric belongs to a target kind; `observe` yields one `Observation` per target of that
kind in the cycle. A value of None means "no data for this target this cycle" (the time lag
of a consumer whose first unacknowledged message was not read, a rate on the first cycle):
the alert then keeps its state (see `evaluation.py`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from shared.metrics.samples import Collection, ConsumerSample, StreamSample

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


COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}


def compare(value: float, op: str, threshold: float) -> bool:
    return COMPARE[op](value, threshold)


def has_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def matches(pattern: str | None, name: str | None) -> bool:
    """Absent or `*` matches everything; otherwise a case-sensitive shell glob."""
    if pattern is None or pattern in ("", "*"):
        return True
    return name is not None and fnmatchcase(name, pattern)


Parts = tuple[tuple[str, str], ...]
# One target's reading: (key, the target's name parts, value). Plain tuples: a cycle of a big
# cluster yields hundreds of thousands of them, and most are below threshold and dropped.
Reading = tuple[str, Parts, float | None]


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
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def reachable(self) -> bool:
        return self.collection is not None

    def target(self, **parts: str) -> dict[str, Any]:
        return {"cluster": self.cluster_name, **parts}

    def observation(self, reading: Reading) -> Observation:
        key, parts, value = reading
        return Observation(key, {"cluster": self.cluster_name, **dict(parts)}, value)

    def streams_in(self, glob: str | None) -> list[StreamSample]:
        """The streams a scope's stream glob matches (computed once per glob and cycle)."""
        cached = self._cache.get(("streams", glob))
        if cached is None:
            c = self.collection
            streams = c.streams if c is not None else []
            cached = [s for s in streams if matches(glob, s.stream)]
            self._cache[("streams", glob)] = cached
        return cached

    def consumers_in(
        self, stream_glob: str | None, consumer_glob: str | None
    ) -> list[tuple[str, Parts, ConsumerSample]]:
        """(key, parts, sample) of the consumers a scope matches, once per scope and cycle."""
        cached = self._cache.get(("consumers", stream_glob, consumer_glob))
        if cached is not None:
            return cached
        by_stream = self._cache.get("by_stream")
        if by_stream is None:
            by_stream = {}
            for cs in self.collection.consumers if self.collection is not None else []:
                by_stream.setdefault(cs.stream, []).append(
                    (
                        f"{cs.stream}/{cs.consumer}",
                        (("stream", cs.stream), ("consumer", cs.consumer)),
                        cs,
                    )
                )
            self._cache["by_stream"] = by_stream
        if stream_glob in (None, "", "*"):
            names: list[str] = list(by_stream)
        else:
            names = [s.stream for s in self.streams_in(stream_glob)]
        chosen = [entry for name in names for entry in by_stream.get(name, ())]
        if consumer_glob not in (None, "", "*"):
            wanted = {
                n for n in {entry[2].consumer for entry in chosen} if matches(consumer_glob, n)
            }
            chosen = [entry for entry in chosen if entry[2].consumer in wanted]
        self._cache[("consumers", stream_glob, consumer_glob)] = chosen
        return chosen


def _ratio(used: float, limit: float) -> float | None:
    return used / limit if limit and limit > 0 else None


_DIRECT = {"num_pending", "num_ack_pending", "num_redelivered", "num_waiting"}


def observe(cycle: Cycle, metric: str, scope: dict[str, Any]) -> Iterator[Reading]:
    """Every target of `metric`'s kind in the cycle, filtered by the rule's scope."""
    kind = METRICS[metric]
    name = metric.split(".", 1)[1]
    if kind == "cluster":
        yield ("", (), 0.0 if cycle.reachable else 1.0)
        return
    c = cycle.collection
    if c is None:
        return
    value: float | None
    if kind == "server":
        for server in c.servers:
            if server.server:
                yield (
                    f"server:{server.server}",
                    (("server", server.server),),
                    0.0 if server.reachable else 1.0,
                )
        return
    if kind == "account":
        for account in c.accounts:
            if name == "storage_ratio":
                value = _ratio(account.storage_used, account.storage_limit)
            else:
                value = _ratio(account.memory_used, account.memory_limit)
            yield (f"account:{account.account}", (("account", account.account),), value)
        return
    stream_glob, consumer_glob = scope.get("stream"), scope.get("consumer")
    if kind == "stream":
        streams = cycle.streams_in(stream_glob)
        values = _stream_values(cycle, name)
        yield from [(s.stream, (("stream", s.stream),), values[s.stream]) for s in streams]
        if (
            name == "missing"
            and stream_glob
            and not has_glob(stream_glob)
            and not any(s.stream == stream_glob for s in streams)
        ):
            yield (stream_glob, (("stream", stream_glob),), 1.0)
        return
    consumers = cycle.consumers_in(stream_glob, consumer_glob)
    if name in _DIRECT:
        figure = operator.attrgetter(name)
        yield from [(key, parts, figure(cs)) for key, parts, cs in consumers]
    elif name == "missing":
        for key, parts, _ in consumers:
            yield (key, parts, 0.0)
        if (
            stream_glob
            and consumer_glob
            and not has_glob(stream_glob)
            and not has_glob(consumer_glob)
            and not consumers
        ):
            yield (
                f"{stream_glob}/{consumer_glob}",
                (("stream", stream_glob), ("consumer", consumer_glob)),
                1.0,
            )
    else:
        values = _consumer_values(cycle, name)
        yield from [(key, parts, values[key]) for key, parts, _ in consumers]


def _stream_values(cycle: Cycle, name: str) -> dict[str, float | None]:
    """One stream metric for every stream of the cycle, computed once however many rules
    read it."""
    cached = cycle._cache.get(("stream", name))
    if cached is not None:
        return cached
    previous = cycle.previous.get("streams", {})
    values: dict[str, float | None] = {}
    for s in cycle.collection.streams if cycle.collection is not None else []:
        value: float | None
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
                before = (previous.get(s.stream) or [None, None])[1]
                value = rate - before if rate is not None and before is not None else None
        else:  # missing
            value = 0.0
        values[s.stream] = value
    cycle._cache[("stream", name)] = values
    return values


def _consumer_values(cycle: Cycle, name: str) -> dict[str, float | None]:
    """One derived consumer metric for every consumer of the cycle, computed once."""
    cached = cycle._cache.get(("consumer", name))
    if cached is not None:
        return cached
    previous = cycle.previous.get("consumers", {})
    values: dict[str, float | None] = {}
    for cs in cycle.collection.consumers if cycle.collection is not None else []:
        key = f"{cs.stream}/{cs.consumer}"
        value: float | None
        if name == "ack_pending_ratio":
            value = _ratio(cs.num_ack_pending, cs.max_ack_pending)
        elif name == "time_lag_seconds":
            value = cs.time_lag_seconds
        elif name == "time_to_drain_seconds":
            value = _time_to_drain(cycle, previous.get(key), cs.num_pending + cs.num_ack_pending)
        else:  # inactive_seconds
            value = (cycle.ts - cs.last_active).total_seconds() if cs.last_active else None
        values[key] = value
    cycle._cache[("consumer", name)] = values
    return values


def _elapsed(cycle: Cycle) -> float:
    before = cycle.previous.get("ts")
    return cycle.ts.timestamp() - before if before else 0.0


def stream_rate(cycle: Cycle, stream: str, last_seq: int) -> float | None:
    """Messages per second since the previous cycle (None on the first cycle or after a
    purge/recreation moved the sequence backwards)."""
    before = cycle.previous.get("streams", {}).get(stream)
    elapsed = _elapsed(cycle)
    if not before or elapsed <= 0 or last_seq < before[0]:
        return None
    return float(last_seq - before[0]) / elapsed


def _time_to_drain(cycle: Cycle, before: int | None, backlog: int) -> float | None:
    """Backlog / net drain rate, as the chart computes it; None while it is not shrinking
    (and 0 once there is no backlog)."""
    if backlog == 0:
        return 0.0
    elapsed = _elapsed(cycle)
    if before is None or elapsed <= 0:
        return None
    shrink = (before - backlog) / elapsed
    return backlog / shrink if shrink > 0 else None


def next_previous(cycle: Cycle, metrics: set[str]) -> dict[str, Any]:
    """What the next cycle's rates need of this one (only for the rate metrics in use):
    `{"ts", "streams": {name: [last_seq, rate]}, "consumers": {"S/C": backlog}}`."""
    c = cycle.collection
    if c is None or not metrics & RATE_METRICS:
        return cycle.previous if c is None else {}
    kept: dict[str, Any] = {"ts": cycle.ts.timestamp()}
    if metrics & {"stream.ingest_rate", "stream.ingest_rate_change"}:
        kept["streams"] = {
            s.stream: [s.last_seq, stream_rate(cycle, s.stream, s.last_seq)] for s in c.streams
        }
    if "consumer.time_to_drain_seconds" in metrics:
        kept["consumers"] = {
            f"{s.stream}/{s.consumer}": s.num_pending + s.num_ack_pending for s in c.consumers
        }
    return kept
