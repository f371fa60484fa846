"""The channel protocol: `send(message, channel)` delivers one notification or raises
`DeliveryError(message, permanent=...)`; a registry maps each kind to its module's class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from shared.config import Settings


class DeliveryError(Exception):
    """A notification was not delivered. `permanent` failures are not retried (a bad URL, a
    revoked token, 4xx); transient ones are (timeouts, 5xx, 429 after `retry_after`)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
        gone: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status_code = status_code
        self.retry_after = retry_after
        self.gone = gone  # 410: the endpoint is gone for good; the channel is turned off


@dataclass
class ChannelConfig:
    """A channel as a sender needs it: the plain config and the decrypted secrets."""

    id: str
    name: str
    kind: str
    config: dict[str, Any]
    secrets: dict[str, Any]


@dataclass
class Outgoing:
    """One delivery to send: its id (the `webhook-id`), its frozen payload."""

    id: str
    payload: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SendResult:
    status_code: int | None = None


class Channel(Protocol):
    kind: ClassVar[str]
    # Config keys that are secrets (encrypted, write-only) and the ones that are required.
    secret_fields: ClassVar[tuple[str, ...]]
    required: ClassVar[tuple[str, ...]]

    def __init__(self, settings: Settings) -> None: ...

    async def send(self, message: Outgoing, channel: ChannelConfig) -> SendResult: ...

    def check_config(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        """Raise `Invalid` naming the field; called when a channel is saved."""
        ...


REGISTRY: dict[str, type[Channel]] = {}


def register(cls: type[Channel]) -> type[Channel]:
    REGISTRY[cls.kind] = cls
    return cls


def channel_class(kind: str) -> type[Channel]:
    # The modules register themselves on import; imported here, not at the top, since each
    # of them imports this module.
    from shared.notify import email, pagerduty, slack, telegram, webhook  # noqa: F401

    return REGISTRY[kind]


def channel_for(kind: str, settings: Settings) -> Channel:
    return channel_class(kind)(settings)
