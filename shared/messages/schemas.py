"""Messages as the API shows them: headers `{name: value | [values]}`, base64 `data`, and
`text` (the payload as UTF-8, or null when it is not UTF-8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec

Direction = Literal["forward", "backward"]
HeaderValue = str | list[str]


@dataclass
class Message:
    seq: int
    subject: str
    time: str | None
    headers: dict[str, HeaderValue]
    size: int
    data: str
    text: str | None


@dataclass
class MessagePage:
    messages: list[Message]
    next_seq: int | None
    scanned: int


@dataclass
class Published:
    seq: int
    duplicate: bool
    stream: str


class PublishIn(msgspec.Struct, forbid_unknown_fields=True):
    subject: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    text: str | None = None
    data: str | None = None  # base64
    headers: dict[str, HeaderValue] | None = None
