"""Server-sent event responses for live views: the API's and the console's message tails.

A live response must reach its client at once, before its first event, which may be minutes
away: its route opts out of compression (`opt={**access(...), **LIVE}`), since the
compression middleware holds a response's headers back until the first chunk of its body
(and gzip behind a proxy buffers further), and its events begin with `opening()`, so the
headers and a first line leave together as soon as the route has answered. `keepalive()` is
a comment that no client turns into an event.
"""

from __future__ import annotations

from typing import Any

from litestar.response.sse import ServerSentEventMessage

# The route option that keeps a response out of the compression middleware
# (CompressionConfig.exclude_opt_key in services/app.py).
UNCOMPRESSED = "uncompressed"
LIVE: dict[str, Any] = {UNCOMPRESSED: True}

# How long an EventSource waits before reconnecting when the connection drops (ms).
RETRY_MILLISECONDS = 3000


def opening() -> ServerSentEventMessage:
    """The first bytes of a live response, sent at once: a `retry:` field and no event."""
    return ServerSentEventMessage(data=None, retry=RETRY_MILLISECONDS)


def keepalive() -> ServerSentEventMessage:
    """`: keepalive`, a comment alone (no `data:` line, so no empty event on the client)."""
    return ServerSentEventMessage(data=None, comment="keepalive")
