"""Stream and consumer names travel inside `$JS.API` subjects: a name with a dot, a wildcard
or whitespace could address another API call, so such a name cannot exist (404)."""

from __future__ import annotations

import re

from shared.errors import NotFound

_BAD = re.compile(r"[.*>\s/\\]")


def check_names(*, stream: str | None = None, consumer: str | None = None) -> None:
    if stream is not None and (not stream or _BAD.search(stream)):
        raise NotFound(f"No stream named {stream!r}", code="stream_not_found")
    if consumer is not None and (not consumer or _BAD.search(consumer)):
        raise NotFound(f"No consumer named {consumer!r}", code="consumer_not_found")
