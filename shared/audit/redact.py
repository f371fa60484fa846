"""Secrets never reach the audit trail: values under secret-looking keys are replaced, and so
is the `user:password@` of any URL, whatever key it sits under (`servers`)."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"

# Key names (any case, any separator) whose values are secrets.
_SECRET = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|seed|creds|credentials|nkey|private|key_pem|"
    r"api_?key|^key$|signing_?key|routing_?key|webhook(_?url)?|slack(_?url)?|smtp_?pass|"
    r"authorization|cookie)",
    re.IGNORECASE,
)


# scheme://userinfo@ — userinfo holds no `/`, `@` or whitespace.
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def redact_url_credentials(text: str) -> str:
    return _URL_USERINFO.sub(rf"\1{REDACTED}@", text)


def is_secret_key(name: str) -> bool:
    return bool(_SECRET.search(name))


def redact(value: Any) -> Any:
    """A copy of `value` with every secret-named entry's value replaced, at any depth."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if is_secret_key(str(k)) and v not in (None, "", False) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str) and "@" in value:
        return redact_url_credentials(value)
    return value


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """`{"before": {...}, "after": {...}}` holding only the keys that changed (all of them for a
    creation or a deletion), secrets redacted. A secret that changed shows as changed."""
    before_r = redact(before) if before is not None else None
    after_r = redact(after) if after is not None else None
    if before_r is None or after_r is None:
        return {"before": before_r, "after": after_r}
    assert before is not None and after is not None
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {
        "before": {k: before_r.get(k) for k in keys if k in before_r},
        "after": {k: after_r.get(k) for k in keys if k in after_r},
    }
