"""`nats_monitor_metadata` rules: thresholds from each stream's and consumer's own
`io.nats.monitor.*` metadata, read as natscli's `server check stream|consumer` reads them
(jsm.go's health checks).

Implemented (they map onto what a collection cycle reports):
- consumers: `outstanding-ack-critical` (num_ack_pending ≥), `waiting-critical`
  (num_waiting ≥), `unprocessed-critical` (num_pending ≥), `redelivery-critical`
  (num_redelivered ≥), `last-delivery-critical` and `last-ack-critical` (a duration such as
  `5m`: time since the last delivery / ack ≥; none yet is critical). A threshold ≤ 0 is off.
- streams: `msgs-warn`/`msgs-critical` (messages ≤, as natscli), `subjects-warn`/
  `subjects-critical` (≥ when warn < critical, else ≤), `peer-expect` (leader + replicas ≠
  expected, or no leader), `peer-lag-critical` (a replica's lag >), `peer-seen-critical`
  (a replica last seen longer ago than the duration).
- `io.nats.monitor.enabled: false` turns a target's checks off.
Not implemented, since a cycle does not collect sources and mirrors: `lag-critical`,
`seen-critical`, `min-sources`, `max-sources`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from shared.alerts.metrics import Cycle, Observation, matches
from shared.metrics.samples import ConsumerSample, StreamSample

PREFIX = "io.nats.monitor."
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_duration(text: str) -> float | None:
    """Seconds in a natscli duration (`90s`, `5m`, `1h30m`, `1d`; a bare number is seconds)."""
    text = text.strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _number(meta: dict[str, str], key: str) -> float | None:
    raw = meta.get(PREFIX + key)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value > 0 else None


def _seconds(meta: dict[str, str], key: str) -> float | None:
    raw = meta.get(PREFIX + key)
    value = parse_duration(raw) if raw is not None else None
    return value if value is not None and value > 0 else None


def _enabled(meta: dict[str, str]) -> bool:
    return meta.get(PREFIX + "enabled", "true").strip().lower() not in ("false", "0")


def _since(now: datetime, then: datetime | None) -> float | None:
    return (now - then).total_seconds() if then else None


def consumer_checks(s: ConsumerSample, now: datetime) -> list[tuple[str, float, float]]:
    """(metadata key, value, threshold) of every check that fails, worst first."""
    meta = s.metadata
    failed: list[tuple[str, float, float]] = []
    for key, value in (
        ("outstanding-ack-critical", s.num_ack_pending),
        ("waiting-critical", s.num_waiting),
        ("unprocessed-critical", s.num_pending),
        ("redelivery-critical", s.num_redelivered),
    ):
        threshold = _number(meta, key)
        if threshold is not None and value >= threshold:
            failed.append((key, float(value), threshold))
    for key, then in (
        ("last-delivery-critical", s.last_delivered),
        ("last-ack-critical", s.last_acked),
    ):
        limit = _seconds(meta, key)
        if limit is None:
            continue
        ago = _since(now, then)
        if ago is None or ago >= limit:
            failed.append((key, ago if ago is not None else -1.0, limit))  # -1: never
    return failed


def stream_checks(s: StreamSample) -> list[tuple[str, float, float]]:
    meta = s.metadata
    failed: list[tuple[str, float, float]] = []
    crit, warn = _number(meta, "msgs-critical"), _number(meta, "msgs-warn")
    if crit is not None and s.messages <= crit:
        failed.append(("msgs-critical", float(s.messages), crit))
    elif warn is not None and s.messages <= warn:
        failed.append(("msgs-warn", float(s.messages), warn))
    crit, warn = _number(meta, "subjects-critical"), _number(meta, "subjects-warn")
    if crit is not None or warn is not None:
        rising = (warn or 0) < (crit or 0)
        n = s.num_subjects
        for key, limit in (("subjects-critical", crit), ("subjects-warn", warn)):
            if limit is not None and (n >= limit if rising else n <= limit):
                failed.append((key, float(n), limit))
                break
    expect = _number(meta, "peer-expect")
    if expect is not None:
        peers = (len(s.peers) + 1) if s.peers is not None and s.has_leader else 0
        if peers != expect:
            failed.append(("peer-expect", float(peers), expect))
    lag = _number(meta, "peer-lag-critical")
    if lag is not None and s.peers:
        worst = max(p[3] for p in s.peers)
        if worst > lag:
            failed.append(("peer-lag-critical", float(worst), lag))
    seen = _seconds(meta, "peer-seen-critical")
    if seen is not None and s.peers:
        worst_seen = max(p[4] for p in s.peers) / 1e9
        if worst_seen > seen:
            failed.append(("peer-seen-critical", worst_seen, seen))
    return failed


def _has_checks(meta: dict[str, str]) -> bool:
    return _enabled(meta) and any(k.startswith(PREFIX) and k != PREFIX + "enabled" for k in meta)


def observe_metadata(cycle: Cycle, scope: dict[str, object]) -> Iterator[Observation]:
    """One observation per stream and consumer that carries monitor metadata."""
    c = cycle.collection
    if c is None:
        return
    stream_glob = scope.get("stream")
    consumer_glob = scope.get("consumer")
    assert stream_glob is None or isinstance(stream_glob, str)
    assert consumer_glob is None or isinstance(consumer_glob, str)
    watched = cycle._cache.get("monitored")
    if watched is None:  # the targets carrying checks, found once per cycle
        watched = (
            [s for s in c.streams if _has_checks(s.metadata)],
            [cs for cs in c.consumers if _has_checks(cs.metadata)],
        )
        cycle._cache["monitored"] = watched
    if consumer_glob is None:  # a rule scoped to consumers does not check their streams
        for s in watched[0]:
            if matches(stream_glob, s.stream):
                yield _verdict(cycle, s.stream, cycle.target(stream=s.stream), stream_checks(s))
    for cs in watched[1]:
        if matches(stream_glob, cs.stream) and matches(consumer_glob, cs.consumer):
            yield _verdict(
                cycle,
                f"{cs.stream}/{cs.consumer}",
                cycle.target(stream=cs.stream, consumer=cs.consumer),
                consumer_checks(cs, cycle.ts),
            )


def _verdict(
    cycle: Cycle, key: str, target: dict[str, object], failed: list[tuple[str, float, float]]
) -> Observation:
    if not failed:
        return Observation(key, dict(target), 0.0, firing=False)
    _name, value, threshold = failed[0]
    detail = "; ".join(f"{PREFIX}{k}: {v:g} against {t:g}" for k, v, t in failed)
    return Observation(key, dict(target), value, threshold=threshold, firing=True, detail=detail)
