"""Consumers: list (every page), info, create, update, delete, pause until / resume."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.audit import record_change
from shared.errors import Invalid
from shared.nats import ClusterClient
from shared.streams.listing import listing_changed
from shared.streams.names import check_body_name
from shared.streams.schemas import Change

# Fields NATS refuses to change on a consumer (nats-server consumer.go, updateConfig checks).
FIXED = {
    "name": "a consumer's name cannot change",
    "durable_name": "a consumer's durable name cannot change",
    "deliver_policy": "deliver policy can not be updated",
    "opt_start_seq": "start sequence can not be updated",
    "opt_start_time": "start time can not be updated",
    "ack_policy": "ack policy can not be updated",
    "replay_policy": "replay policy can not be updated",
    "idle_heartbeat": "heart beats can not be updated",
    "flow_control": "flow control can not be updated",
    "max_waiting": "max waiting can not be updated",
}


def _clean(info: dict[str, Any]) -> dict[str, Any]:
    info.pop("type", None)
    return info


# What the consumers of a stream sort by (`-key` for descending), each read from the info.
SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "name": lambda i: str(i.get("name") or ""),
    "pending": lambda i: int(i.get("num_pending") or 0),
    "ack_pending": lambda i: int(i.get("num_ack_pending") or 0),
    "redelivered": lambda i: int(i.get("num_redelivered") or 0),
    "waiting": lambda i: int(i.get("num_waiting") or 0),
    "last_active": lambda i: last_active(i),
}


def last_active(info: dict[str, Any]) -> str:
    """When the consumer last delivered (else last saw an ack), as NATS' UTC time with its
    fraction padded to nanoseconds so that the text sorts as the time does; "" for never."""
    for block in ("delivered", "ack_floor"):
        text = str((info.get(block) or {}).get("last_active") or "")
        if text and not text.startswith("0001-"):
            base, _, fraction = text.removesuffix("Z").partition(".")
            return f"{base}.{fraction:0<9}"
    return ""


def _matches(info: dict[str, Any], needle: str) -> bool:
    config = info.get("config") or {}
    subjects = [*(config.get("filter_subjects") or []), config.get("filter_subject") or ""]
    return needle in str(info.get("name") or "").lower() or any(
        needle in s.lower() for s in subjects if s
    )


async def list_consumers(
    client: ClusterClient,
    stream: str,
    *,
    search: str | None = None,
    sort: str = "name",
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the stream's consumers (every `CONSUMER.LIST` page read), those whose name or
    filter subject contains `search` (any case), sorted by a `SORTS` key (`-` descending; ties
    by name), and the total that matched. An unknown sort is by name."""
    # An unknown stream is 404 (stream_not_found), not an empty list: CONSUMER.LIST says so.
    items = [_clean(i) async for i in client.js_paged(f"CONSUMER.LIST.{stream}", "consumers")]
    if search:
        needle = search.lower()
        items = [i for i in items if _matches(i, needle)]
    key = SORTS.get(sort.removeprefix("-"), SORTS["name"])
    items.sort(key=SORTS["name"])
    items.sort(key=key, reverse=sort.startswith("-") and sort.removeprefix("-") in SORTS)
    return items[offset : offset + limit], len(items)


async def get_consumer(client: ClusterClient, stream: str, name: str) -> dict[str, Any]:
    return _clean(await client.js(f"CONSUMER.INFO.{stream}.{name}"))


def _name_of(config: dict[str, Any], name: str | None) -> str:
    if not isinstance(config, dict):
        raise Invalid("A consumer config is a JSON object", code="invalid_config")
    for key in ("durable_name", "name"):
        check_body_name("consumer", key, config.get(key))
    given = name or config.get("durable_name") or config.get("name")
    if not isinstance(given, str) or not given:
        raise Invalid("A consumer config needs a name (or durable_name)", code="invalid_config")
    for key in ("name", "durable_name"):
        if config.get(key) not in (None, given):
            raise Invalid(
                f"The config names consumer {config[key]!r}, not {given!r}", code="name_mismatch"
            )
    return given


async def _write(
    client: ClusterClient, stream: str, config: dict[str, Any], name: str | None, action: str
) -> dict[str, Any]:
    consumer = _name_of(config, name)
    wanted: dict[str, Any] = {**config, "name": consumer}
    if config.get("durable_name") is None and "inactive_threshold" not in config:
        wanted["durable_name"] = consumer  # a console's consumers outlive the request
    body = {"stream_name": stream, "config": wanted, "action": action}
    return _clean(await client.js(f"CONSUMER.CREATE.{stream}.{consumer}", body))


async def create_consumer(
    client: ClusterClient, stream: str, config: dict[str, Any]
) -> dict[str, Any]:
    info = await _write(client, stream, config, None, "create")
    await listing_changed(client)
    record_change(f"consumer:{stream}/{info['name']}", None, info.get("config"))
    return info


def diff_consumer_configs(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Each field `after` changes, and whether NATS allows changing it."""
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if key not in after or old == new:
            continue
        reason = FIXED.get(key)
        if key == "deliver_subject" and bool(old) != bool(new):
            reason = "a push consumer cannot become a pull consumer, nor the reverse"
        changes.append(
            Change(field=key, before=old, after=new, updatable=reason is None, reason=reason)
        )
    return changes


async def preview_consumer_update(
    client: ClusterClient, stream: str, name: str, config: dict[str, Any]
) -> list[Change]:
    """What `update_consumer` would change (a dry run: nothing is sent to NATS but a read)."""
    current = await get_consumer(client, stream, name)
    before = current.get("config", {})
    return diff_consumer_configs(before, {**before, **config})


async def update_consumer(
    client: ClusterClient, stream: str, name: str, config: dict[str, Any]
) -> dict[str, Any]:
    current = await get_consumer(client, stream, name)
    wanted = {**current.get("config", {}), **config}
    info = await _write(client, stream, wanted, name, "update")
    record_change(f"consumer:{stream}/{name}", current.get("config"), info.get("config"))
    return info


async def delete_consumer(client: ClusterClient, stream: str, name: str) -> None:
    current = await get_consumer(client, stream, name)
    await client.js(f"CONSUMER.DELETE.{stream}.{name}")
    await listing_changed(client)
    record_change(f"consumer:{stream}/{name}", current.get("config"), None)


async def pause_consumer(
    client: ClusterClient, stream: str, name: str, until: str | None
) -> dict[str, Any]:
    """Pause until an RFC 3339 time, or resume (`until` None). Returns the consumer's info.
    An unknown stream or consumer is 404: CONSUMER.PAUSE says so."""
    reply = await client.js(
        f"CONSUMER.PAUSE.{stream}.{name}", {"pause_until": until} if until else {}
    )
    record_change(
        f"consumer:{stream}/{name}",
        None,
        {"paused": bool(reply.get("paused")), "pause_until": reply.get("pause_until")},
    )
    return await get_consumer(client, stream, name)
