"""Query parameters that many routes share, with their limits (the OpenAPI document shows
them)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

Offset = Annotated[int, QueryParameter(ge=0)]
Limit = Annotated[int, QueryParameter(ge=1, le=1000)]
