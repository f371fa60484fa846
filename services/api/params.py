"""Query parameters that many routes share, with their limits (the OpenAPI document shows
them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar.params import QueryParameter

from shared.errors import Invalid

# PostgreSQL's OFFSET is a bigint: a larger number is the caller's mistake (400), never a 500.
MAX_OFFSET = 2**31 - 1

Offset = Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, QueryParameter(ge=1, le=1000)]

# Times travel as RFC 3339 text. Litestar's own datetime parsing also takes a bare number as
# seconds since 1970 (`to=0.5`), which nobody means; these parameters are parsed here instead.
TIME_FORMAT = "date-time"


def parse_time(
    name: str,
    value: str | None,
    *,
    earliest: datetime | None = None,
    latest: datetime | None = None,
    zone_required: bool = False,
) -> datetime | None:
    """`value` as an aware datetime (naive → UTC unless `zone_required`), or 400 naming the
    parameter."""
    if value is None or value == "":
        return None
    example = "e.g. 2030-01-01T00:00:00Z"
    text = value.strip()
    try:
        if not text[:4].isdigit() or len(text) < 10:
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(
            f"`{name}` must be an RFC 3339 time ({example}).",
            code="invalid_time",
            extra={"field": name},
        ) from None
    if moment.tzinfo is None and zone_required:
        raise Invalid(
            f"`{name}` needs a time zone ({example}).", code="invalid_time", extra={"field": name}
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if (earliest and moment < earliest) or (latest and moment > latest):
        raise Invalid(
            f"`{name}` must lie between {earliest or '…'} and {latest or '…'}.",
            code="invalid_time",
            extra={"field": name},
        )
    return moment


TimeText = Annotated[
    str | None,
    QueryParameter(description="RFC 3339, e.g. 2030-01-01T00:00:00Z", format=TIME_FORMAT),
]
