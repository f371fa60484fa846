"""Stream and consumer configs ⇄ the console's forms.

A form's values are strings keyed by field name (what the browser posts and the template
shows back); a config is NATS' own JSON (durations in nanoseconds). `*_config_from_form`
returns the config and `{field: message}` for what cannot be read; `*_form_values` fills a
form from a config, so the form and the raw JSON tab round-trip through the server: switching
tab posts the form, and the page comes back with the other tab filled from the same config.
Fields a form does not show stay in the JSON (`extra`), so nothing NATS knows is lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9}
NS.update(h=3600 * 10**9, d=86400 * 10**9)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")


def parse_duration(text: str) -> int:
    """`1h30m`, `90s`, `500ms`, `2d` or a bare number of seconds → nanoseconds."""
    text = text.strip().replace(" ", "")
    if not text:
        return 0
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return int(float(text) * NS["s"])
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * NS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError("a duration like 90s, 5m, 1h30m, 2d or 500ms")
    return int(total)


def format_duration(ns: int | None) -> str:
    """Nanoseconds → `1h30m`, `2m`, `500ms` (empty for none)."""
    if not ns:
        return ""
    ns = int(ns)
    if ns % NS["s"]:
        for unit in ("ms", "us", "ns"):
            if ns % NS[unit] == 0:
                return f"{ns // NS[unit]}{unit}"
    seconds, parts = ns // NS["s"], []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _metadata(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError("one key=value a line")
        found[key.strip()] = value.strip()
    return found


def _metadata_text(metadata: Mapping[str, str] | None) -> str:
    """Metadata a user set, one `key=value` a line (NATS' own `_nats.*` keys left out)."""
    return "\n".join(
        f"{k}={v}" for k, v in (metadata or {}).items() if not k.startswith(SYSTEM_METADATA)
    )


SYSTEM_METADATA = "_nats."


def keep_system_metadata(config: dict[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """An edit's metadata keeps the `_nats.*` keys NATS set itself (the form hides them)."""
    if "metadata" not in config:
        return config
    system = {
        k: v for k, v in (current.get("metadata") or {}).items() if k.startswith(SYSTEM_METADATA)
    }
    merged = {**system, **(config["metadata"] or {})}
    return {**config, "metadata": merged or None}


def _time_value(text: str | None) -> str:
    """A NATS time (RFC 3339, nanoseconds) → a datetime-local input value (UTC)."""
    if not text or text.startswith("0001-"):
        return ""
    moment = parse_nats_time(text)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else ""


def _time_from(text: str) -> str:
    """A datetime-local value (taken as UTC) → RFC 3339."""
    moment = datetime.fromisoformat(text.strip())
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_nats_time(text: str | None) -> datetime | None:
    """NATS' RFC 3339 time with nanoseconds (`…T10:54:29.123456789Z`); None for none or
    Go's zero time."""
    if not text or text.startswith("0001-"):
        return None
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
    if not match:
        return None
    fraction = (match.group(2) or "")[:7]
    zone = match.group(3) or "Z"
    moment = datetime.fromisoformat(match.group(1) + fraction + ("+00:00" if zone == "Z" else zone))
    return moment.astimezone(UTC)


class Reader:
    """Reads posted values into config fields, collecting `{field: message}` errors."""

    def __init__(self, form: Mapping[str, str]):
        self.form, self.errors = form, {}  # type: ignore[var-annotated]

    def text(self, name: str) -> str:
        return str(self.form.get(name) or "").strip()

    def flag(self, name: str) -> bool:
        return self.text(name) in ("on", "true", "1")

    def integer(
        self, name: str, empty: int | None = None, minimum: int | None = None
    ) -> int | None:
        text = self.text(name).replace(",", "").replace("_", "")
        if not text:
            return empty
        try:
            value = int(text)
        except ValueError:
            self.errors[name] = "a whole number"
            return empty
        if minimum is not None and value < minimum and value != -1:
            self.errors[name] = f"at least {minimum} (or -1 for no limit)"
        return value

    def duration(self, name: str) -> int | None:
        try:
            return parse_duration(self.text(name)) if self.text(name) else None
        except ValueError as exc:
            self.errors[name] = str(exc)
            return None

    def time(self, name: str) -> str | None:
        if not self.text(name):
            return None
        try:
            return _time_from(self.text(name))
        except ValueError:
            self.errors[name] = "a date and time (UTC)"
            return None

    def metadata(self, name: str) -> dict[str, str] | None:
        try:
            return _metadata(self.text(name)) or None
        except ValueError as exc:
            self.errors[name] = str(exc)
            return None

    def extra(self) -> dict[str, Any]:
        """Fields the form does not show, carried as JSON in the hidden `extra`."""
        try:
            value = json.loads(self.text("extra") or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def _drop_none(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if v is not None}


# ---- streams -----------------------------------------------------------------------------

STREAM_FORM_KEYS = {
    "name", "description", "subjects", "retention", "storage", "num_replicas", "max_msgs",
    "max_bytes", "max_age", "max_msg_size", "max_msgs_per_subject", "max_consumers", "discard",
    "discard_new_per_subject", "duplicate_window", "allow_direct", "mirror_direct", "mirror",
    "sources", "republish", "subject_transform", "metadata", "compression", "deny_delete",
    "deny_purge", "allow_rollup_hdrs", "allow_msg_ttl",
}  # fmt: skip
# Optional parts a form may clear: an edit sends them as null so NATS drops them.
STREAM_CLEARABLE = ("republish", "subject_transform", "metadata", "sources", "description")


def stream_config_from_form(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    r = Reader(form)
    config: dict[str, Any] = {
        **r.extra(),
        "name": r.text("name") or None,
        "description": r.text("description") or None,
        "subjects": _lines(r.text("subjects")) or None,
        "retention": r.text("retention") or "limits",
        "storage": r.text("storage") or "file",
        "num_replicas": r.integer("num_replicas", 1, 1),
        "max_msgs": r.integer("max_msgs", -1, 1),
        "max_bytes": r.integer("max_bytes", -1, 1),
        "max_age": r.duration("max_age") or 0,
        "max_msg_size": r.integer("max_msg_size", -1, 1),
        "max_msgs_per_subject": r.integer("max_msgs_per_subject", -1, 1),
        "max_consumers": r.integer("max_consumers", -1, 1),
        "discard": r.text("discard") or "old",
        "discard_new_per_subject": r.flag("discard_new_per_subject") or None,
        "duplicate_window": r.duration("duplicate_window"),
        "allow_direct": r.flag("allow_direct"),
        "mirror_direct": r.flag("mirror_direct"),
        "compression": r.text("compression") or "none",
        "deny_delete": r.flag("deny_delete"),
        "deny_purge": r.flag("deny_purge"),
        "allow_rollup_hdrs": r.flag("allow_rollup_hdrs"),
        "allow_msg_ttl": r.flag("allow_msg_ttl") or None,
        "metadata": r.metadata("metadata"),
    }
    if r.text("mirror_name"):
        mirror: dict[str, Any] = {"name": r.text("mirror_name")}
        if r.text("mirror_filter"):
            mirror["filter_subject"] = r.text("mirror_filter")
        config["mirror"] = mirror
        config["subjects"] = None
    sources = []
    for line in r.text("sources").splitlines():
        parts = line.split()
        if parts:
            source: dict[str, Any] = {"name": parts[0]}
            if len(parts) > 1:
                source["filter_subject"] = parts[1]
            sources.append(source)
    config["sources"] = sources or None
    if r.text("republish_src") or r.text("republish_dest"):
        config["republish"] = {
            "src": r.text("republish_src") or ">",
            "dest": r.text("republish_dest"),
            "headers_only": r.flag("republish_headers_only") or None,
        }
        config["republish"] = _drop_none(config["republish"])
        if not r.text("republish_dest"):
            r.errors["republish_dest"] = "republishing needs a destination subject"
    if r.text("transform_src") or r.text("transform_dest"):
        config["subject_transform"] = {
            "src": r.text("transform_src") or ">",
            "dest": r.text("transform_dest"),
        }
    if not config["name"]:
        r.errors["name"] = "a stream needs a name"
    return _drop_none(config), r.errors


def stream_form_values(config: Mapping[str, Any]) -> dict[str, str]:
    def num(key: str) -> str:
        value = config.get(key)
        return "" if value is None or value == -1 else str(value)

    def flag(key: str) -> str:
        return "on" if config.get(key) else ""

    mirror = config.get("mirror") or {}
    republish = config.get("republish") or {}
    transform = config.get("subject_transform") or {}
    values = {
        "name": str(config.get("name") or ""),
        "description": str(config.get("description") or ""),
        "subjects": "\n".join(config.get("subjects") or []),
        "retention": str(config.get("retention") or "limits"),
        "storage": str(config.get("storage") or "file"),
        "num_replicas": str(config.get("num_replicas") or 1),
        "max_msgs": num("max_msgs"),
        "max_bytes": num("max_bytes"),
        "max_age": format_duration(config.get("max_age")),
        "max_msg_size": num("max_msg_size"),
        "max_msgs_per_subject": num("max_msgs_per_subject"),
        "max_consumers": num("max_consumers"),
        "discard": str(config.get("discard") or "old"),
        "discard_new_per_subject": flag("discard_new_per_subject"),
        "duplicate_window": format_duration(config.get("duplicate_window")),
        "allow_direct": flag("allow_direct"),
        "mirror_direct": flag("mirror_direct"),
        "compression": str(config.get("compression") or "none"),
        "deny_delete": flag("deny_delete"),
        "deny_purge": flag("deny_purge"),
        "allow_rollup_hdrs": flag("allow_rollup_hdrs"),
        "allow_msg_ttl": flag("allow_msg_ttl"),
        "metadata": _metadata_text(config.get("metadata")),
        "mirror_name": str(mirror.get("name") or ""),
        "mirror_filter": str(mirror.get("filter_subject") or ""),
        "sources": "\n".join(
            " ".join(filter(None, [s.get("name"), s.get("filter_subject")]))
            for s in config.get("sources") or []
        ),
        "republish_src": str(republish.get("src") or ""),
        "republish_dest": str(republish.get("dest") or ""),
        "republish_headers_only": "on" if republish.get("headers_only") else "",
        "transform_src": str(transform.get("src") or ""),
        "transform_dest": str(transform.get("dest") or ""),
    }
    extra = {k: v for k, v in config.items() if k not in STREAM_FORM_KEYS}
    values["extra"] = json.dumps(extra, sort_keys=True) if extra else ""
    return values


# ---- consumers ---------------------------------------------------------------------------

CONSUMER_FORM_KEYS = {
    "name", "durable_name", "description", "deliver_subject", "deliver_group", "filter_subject",
    "filter_subjects", "ack_policy", "deliver_policy", "opt_start_seq", "opt_start_time",
    "replay_policy", "ack_wait", "max_deliver", "backoff", "max_ack_pending", "max_waiting",
    "inactive_threshold", "pause_until", "headers_only", "num_replicas", "metadata",
}  # fmt: skip
CONSUMER_CLEARABLE = ("metadata", "backoff", "description", "filter_subject", "filter_subjects")


def consumer_config_from_form(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    r = Reader(form)
    name = r.text("name")
    push = r.text("kind") == "push"
    filters = _lines(r.text("filter_subjects"))
    backoff = []
    for part in _lines(r.text("backoff")):
        try:
            backoff.append(parse_duration(part))
        except ValueError as exc:
            r.errors["backoff"] = f"{part!r}: {exc}"
    durable = r.flag("durable")
    config: dict[str, Any] = {
        **r.extra(),
        "name": name or None,
        "durable_name": name if durable and name else None,
        "description": r.text("description") or None,
        "deliver_subject": r.text("deliver_subject") or None if push else None,
        "deliver_group": r.text("deliver_group") or None if push else None,
        "filter_subject": filters[0] if len(filters) == 1 else None,
        "filter_subjects": filters if len(filters) > 1 else None,
        "ack_policy": r.text("ack_policy") or "explicit",
        "deliver_policy": r.text("deliver_policy") or "all",
        "opt_start_seq": r.integer("opt_start_seq", None, 1),
        "opt_start_time": r.time("opt_start_time"),
        "replay_policy": r.text("replay_policy") or "instant",
        "ack_wait": r.duration("ack_wait"),
        "max_deliver": r.integer("max_deliver", None, 1),
        "backoff": backoff or None,
        "max_ack_pending": r.integer("max_ack_pending", None, 1),
        "max_waiting": None if push else r.integer("max_waiting", None, 1),
        "inactive_threshold": r.duration("inactive_threshold"),
        "pause_until": r.time("pause_until"),
        "headers_only": r.flag("headers_only") or None,
        "num_replicas": r.integer("num_replicas", None, 0),
        "metadata": r.metadata("metadata"),
    }
    if not name:
        r.errors["name"] = "a consumer needs a name"
    if not durable and not config["inactive_threshold"]:
        config["inactive_threshold"] = 5 * NS["m"]  # an ephemeral consumer goes when idle
    if push and not config["deliver_subject"]:
        r.errors["deliver_subject"] = "a push consumer needs a deliver subject"
    if config["deliver_policy"] == "by_start_sequence" and not config["opt_start_seq"]:
        r.errors.setdefault("opt_start_seq", "deliver by start sequence needs a sequence")
    if config["deliver_policy"] == "by_start_time" and not config["opt_start_time"]:
        r.errors.setdefault("opt_start_time", "deliver by start time needs a time")
    return _drop_none(config), r.errors


def consumer_form_values(config: Mapping[str, Any]) -> dict[str, str]:
    def num(key: str) -> str:
        value = config.get(key)
        return "" if value is None or value == -1 else str(value)

    filters = config.get("filter_subjects") or (
        [config["filter_subject"]] if config.get("filter_subject") else []
    )
    values = {
        "name": str(config.get("name") or config.get("durable_name") or ""),
        "durable": "on" if config.get("durable_name") or not config else "",
        "description": str(config.get("description") or ""),
        "kind": "push" if config.get("deliver_subject") else "pull",
        "deliver_subject": str(config.get("deliver_subject") or ""),
        "deliver_group": str(config.get("deliver_group") or ""),
        "filter_subjects": "\n".join(filters),
        "ack_policy": str(config.get("ack_policy") or "explicit"),
        "deliver_policy": str(config.get("deliver_policy") or "all"),
        "opt_start_seq": num("opt_start_seq"),
        "opt_start_time": _time_value(config.get("opt_start_time")),
        "replay_policy": str(config.get("replay_policy") or "instant"),
        "ack_wait": format_duration(config.get("ack_wait")),
        "max_deliver": num("max_deliver"),
        "backoff": ", ".join(format_duration(b) for b in config.get("backoff") or []),
        "max_ack_pending": num("max_ack_pending"),
        "max_waiting": num("max_waiting"),
        "inactive_threshold": format_duration(config.get("inactive_threshold")),
        "pause_until": _time_value(config.get("pause_until")),
        "headers_only": "on" if config.get("headers_only") else "",
        "num_replicas": num("num_replicas") if config.get("num_replicas") else "",
        "metadata": _metadata_text(config.get("metadata")),
    }
    extra = {k: v for k, v in config.items() if k not in CONSUMER_FORM_KEYS}
    values["extra"] = json.dumps(extra, sort_keys=True) if extra else ""
    return values


def config_json(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), indent=2)


def config_from_json(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON tab's text → a config, or an error under `json`."""
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        return {}, {"json": f"Not valid JSON: {exc}"}
    if not isinstance(value, dict):
        return {}, {"json": "A config is a JSON object"}
    return value, {}


# NATS' err_code → the form field its refusal concerns.
STREAM_NATS_FIELDS = {
    10058: "name",  # stream name already in use
    10065: "subjects",  # subjects overlap with an existing stream
    10074: "num_replicas",  # replicas > 1 not supported in non-clustered mode
    10113: "max_bytes",  # account requires a stream config to have max bytes set
    10055: "mirror_name",
    10052: "__config__",  # invalid config: the description names the field (below)
}
CONSUMER_NATS_FIELDS = {
    10013: "name",
    10148: "name",
    10116: "backoff",
    10079: "deliver_subject",
    10093: "filter_subjects",
    10012: "deliver_policy",
}
_KEYWORDS = (
    ("subject transform", "transform_dest"),
    ("republish", "republish_dest"),
    ("duplicates window", "duplicate_window"),
    ("duplicate window", "duplicate_window"),
    ("max age", "max_age"),
    ("replicas", "num_replicas"),
    ("mirror", "mirror_name"),
    ("source", "sources"),
    ("subject", "subjects"),
    ("discard", "discard"),
    ("max msgs per subject", "max_msgs_per_subject"),
    ("message size", "max_msg_size"),
    ("max bytes", "max_bytes"),
    ("retention", "retention"),
    ("storage", "storage"),
    ("ttl", "allow_msg_ttl"),
    ("backoff", "backoff"),
    ("ack wait", "ack_wait"),
    ("max deliver", "max_deliver"),
    ("deliver subject", "deliver_subject"),
    ("filter", "filter_subjects"),
    ("inactive", "inactive_threshold"),
    ("max waiting", "max_waiting"),
    ("ack pending", "max_ack_pending"),
)


def field_for(errors: dict[str, str], fields: set[str]) -> dict[str, str]:
    """Place a refusal NATS gave for the whole config (`__config__`, or the form's own
    `__all__`) beside the form field its description names, when one does."""
    for key in ("__config__", "__all__"):
        if key not in errors:
            continue
        message = errors.pop(key)
        lowered = message.lower()
        target = next((f for word, f in _KEYWORDS if word in lowered and f in fields), "__all__")
        errors[target] = message
    return errors
