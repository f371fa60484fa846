"""Stream and consumer names travel inside `$JS.API` subjects: a name with a dot, a wildcard
or whitespace could address another API call, so such a name cannot exist (404)."""

from __future__ import annotations

import re
from typing import Any

from shared.errors import Invalid, NotFound

_BAD = re.compile(r"[.*>\s/\\]")


def check_names(*, stream: str | None = None, consumer: str | None = None) -> None:
    if stream is not None and (not stream or _BAD.search(stream)):
        raise NotFound(f"No stream named {stream!r}", code="stream_not_found")
    if consumer is not None and (not consumer or _BAD.search(consumer)):
        raise NotFound(f"No consumer named {consumer!r}", code="consumer_not_found")


def check_body_name(kind: str, field: str, value: Any) -> None:
    """A stream or consumer name given in a request body: one NATS could not carry in a
    subject is the caller's mistake (400 naming the field), before anything reaches NATS."""
    if value is None:
        return
    if not isinstance(value, str) or not value or len(value) > 255 or _BAD.search(value):
        raise Invalid(
            f"`{field}`: a {kind} name is 1 to 255 characters without spaces, dots, `*`, `>`, "
            "`/` or `\\`.",
            code="invalid_name",
            extra={"field": field},
        )
