"""Streams: list (every page; shared by requests: listing.py), info, create, update (with a dry
run), delete, purge.

A stream's config is NATS' own JSON. An update starts from the stream's current config and
applies the fields given, so a client may send a whole `nats stream info --json` config or
just the fields to change; a dry run reports each field that would change and whether NATS
allows changing it."""

from __future__ import annotations

from typing import Any

from shared.audit import record_change
from shared.errors import Invalid
from shared.nats import ClusterClient
from shared.streams.listing import (
    MAX_VIEWS,
    Listing,
    cached_listing,
    fetch_listing,
    listing_changed,
)
from shared.streams.names import check_body_name
from shared.streams.schemas import Change, PurgeIn, StreamInfo, StreamSummary, StreamUpdate

# Fields NATS refuses to change on a live stream (nats-server stream.go, updateConfig checks).
FIXED = {
    "name": "a stream's name cannot change",
    "storage": "stream configuration update can not change storage type",
    "persist_mode": "the persistence mode is fixed at creation",
    "mirror": "a mirror's origin cannot change",
    "template_owner": "set by a stream template",
}
ONE_WAY = {  # may be turned on, never off again
    "sealed": "a sealed stream cannot be unsealed",
    "deny_delete": "deny_delete cannot be turned off",
    "deny_purge": "deny_purge cannot be turned off",
    "allow_msg_ttl": "per-message TTLs cannot be turned off",
}


def stream_info(data: dict[str, Any]) -> StreamInfo:
    known = {"config", "state", "cluster", "created", "type", "ts"}
    return StreamInfo(
        config=data.get("config") or {},
        state=data.get("state") or {},
        cluster=data.get("cluster"),
        created=data.get("created"),
        extra={k: v for k, v in data.items() if k not in known},
    )


def _matches(item: StreamSummary, search: str) -> bool:
    needle = search.lower()
    return needle in item.name.lower() or any(needle in s.lower() for s in item.subjects)


async def stream_listing(
    client: ClusterClient, subject: str | None = None, *, cached: bool = True
) -> Listing:
    """Every stream's summary and full info (optionally those with subjects matching the
    NATS subject filter `subject`); when `cached`, a listing shared as listing.py says."""
    if not cached:
        return await fetch_listing(client, subject)
    return (await cached_listing(client, subject))[1]


def select_streams(
    listing: Listing, *, search: str | None, subject_filtered: bool, sort: str
) -> Listing:
    """The listing filtered by `search` (name or subject containing it, unless NATS already
    filtered by subject) and sorted by a `SortKey`."""
    rows = listing
    if search and not subject_filtered:
        rows = [r for r in rows if _matches(r[0], search)]
    key = sort.lstrip("-")
    text_key = key in ("name", "last_ts", "created")
    return sorted(
        rows,
        key=lambda r: (getattr(r[0], key) or "") if text_key else getattr(r[0], key),
        reverse=sort.startswith("-"),
    )


def _subject_filter(search: str | None) -> str | None:
    return search if search and any(c in search for c in ".*>") else None


async def list_stream_infos(
    client: ClusterClient,
    *,
    search: str | None = None,
    sort: str = "name",
    offset: int = 0,
    limit: int = 100,
    cached: bool = True,
) -> tuple[Listing, int]:
    """A page of (summary, full info) pairs and the total that matched (the console's list)."""
    subject = _subject_filter(search)
    if not cached:
        listing = await fetch_listing(client, subject)
        rows = select_streams(
            listing, search=search, subject_filtered=subject is not None, sort=sort
        )
        return rows[offset : offset + limit], len(rows)
    entry, listing = await cached_listing(client, subject)
    view = entry.views.get((search, sort))
    if view is None:  # paging through one search and sort sorts once
        view = select_streams(
            listing, search=search, subject_filtered=subject is not None, sort=sort
        )
        if len(entry.views) < MAX_VIEWS:
            entry.views[(search, sort)] = view
    return view[offset : offset + limit], len(view)


async def list_streams(
    client: ClusterClient,
    *,
    search: str | None = None,
    sort: str = "name",
    offset: int = 0,
    limit: int = 100,
    cached: bool = True,
) -> tuple[list[StreamSummary], int]:
    """A page of stream summaries and the total that matched: every stream (page after page
    of `STREAM.LIST` until `total`, shared as listing.py says when `cached`), filtered,
    sorted, sliced."""
    rows, total = await list_stream_infos(
        client, search=search, sort=sort, offset=offset, limit=limit, cached=cached
    )
    return [r[0] for r in rows], total


async def get_stream(client: ClusterClient, name: str) -> StreamInfo:
    return stream_info(await client.js(f"STREAM.INFO.{name}"))


def _check_name(name: str, config: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise Invalid("A stream config is a JSON object", code="invalid_config")
    given = config.get("name")
    if given not in (None, name):
        raise Invalid(f"The config names stream {given!r}, the URL {name!r}", code="name_mismatch")
    return {**config, "name": name}


async def create_stream(client: ClusterClient, config: dict[str, Any]) -> StreamInfo:
    name = config.get("name") if isinstance(config, dict) else None
    if not isinstance(name, str) or not name:
        raise Invalid("A stream config needs a name", code="invalid_config")
    check_body_name("stream", "name", name)
    info = stream_info(await client.js(f"STREAM.CREATE.{name}", config))
    await listing_changed(client)
    record_change(f"stream:{name}", None, info.config)
    return info


def diff_configs(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new or (key not in after):
            continue
        reason = FIXED.get(key)
        if key in ONE_WAY and old and not new:
            reason = ONE_WAY[key]
        if key == "retention" and "workqueue" in (old, new):
            reason = "retention cannot change to or from workqueue"
        changes.append(
            Change(field=key, before=old, after=new, updatable=reason is None, reason=reason)
        )
    return changes


async def update_stream(
    client: ClusterClient, name: str, config: dict[str, Any], *, dry_run: bool = False
) -> StreamUpdate:
    current = await get_stream(client, name)
    wanted = {**current.config, **_check_name(name, config)}
    changes = diff_configs(current.config, wanted)
    if dry_run or not changes:
        return StreamUpdate(changes=changes, dry_run=dry_run, stream=None if dry_run else current)
    info = stream_info(await client.js(f"STREAM.UPDATE.{name}", wanted))
    await listing_changed(client)
    record_change(f"stream:{name}", current.config, info.config)
    return StreamUpdate(changes=changes, dry_run=False, stream=info)


async def delete_stream(client: ClusterClient, name: str) -> None:
    current = await get_stream(client, name)
    await client.js(f"STREAM.DELETE.{name}")
    await listing_changed(client)
    record_change(f"stream:{name}", current.config, None)


async def purge_stream(client: ClusterClient, name: str, purge: PurgeIn) -> int:
    if purge.keep is not None and purge.seq is not None:
        raise Invalid(
            "Purge keeps N messages or purges up to a sequence, not both", code="invalid_purge"
        )
    body: dict[str, Any] = {}
    if purge.subject:
        body["filter"] = purge.subject
    if purge.keep is not None:
        body["keep"] = purge.keep
    if purge.seq is not None:
        body["seq"] = purge.seq
    before = (await get_stream(client, name)).state
    reply = await client.js(f"STREAM.PURGE.{name}", body)
    await listing_changed(client)
    purged = int(reply.get("purged") or 0)
    record_change(
        f"stream:{name}",
        {"messages": before.get("messages")},
        {"messages": int(before.get("messages") or 0) - purged, "purge": body},
    )
    return purged


async def purge_preview(client: ClusterClient, name: str, purge: PurgeIn) -> tuple[int, bool]:
    """How many messages `purge` would remove, and whether that count is exact (a purge
    below a sequence counts from the first sequence, so interior deletes make it an upper
    bound). Reads only."""
    state = (await get_stream(client, name)).state
    total = int(state.get("messages") or 0)
    exact = True
    if purge.subject:
        info = await client.js(f"STREAM.INFO.{name}", {"subjects_filter": purge.subject})
        total = sum(int(n) for n in ((info.get("state") or {}).get("subjects") or {}).values())
    if purge.keep is not None:
        return max(0, total - purge.keep), exact
    if purge.seq is not None:
        first = int(state.get("first_seq") or 0)
        below = max(0, purge.seq - first) if first else 0
        if purge.subject:
            return total, False
        return min(total, below), int(state.get("num_deleted") or 0) == 0
    return total, exact


def update_body(update: StreamUpdate) -> dict[str, Any]:
    """The PUT answer: `{changes, dry_run}`, plus the stream's info when it was applied."""
    import msgspec

    body: dict[str, Any] = {
        "changes": msgspec.to_builtins(update.changes),
        "dry_run": update.dry_run,
    }
    if update.stream is not None:
        body.update(msgspec.to_builtins(update.stream))
    return body
