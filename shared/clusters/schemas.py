"""What the clusters API accepts and returns. Secrets go in, never out: responses say which
secrets are set (`password_set`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from shared.accounts.schemas import Slug

AuthType = Literal["none", "user_password", "token", "nkey", "creds"]
ServerUrl = Annotated[str, msgspec.Meta(pattern=r"^(nats|tls|ws|wss)://\S+$", max_length=500)]
SecretText = Annotated[str, msgspec.Meta(min_length=1, max_length=65536)]
Label = Annotated[str, msgspec.Meta(max_length=200)]


class AuthIn(msgspec.Struct, forbid_unknown_fields=True):
    type: AuthType = "none"
    username: Label | None = None
    password: SecretText | None = None
    token: SecretText | None = None
    seed: SecretText | None = None  # an nkey seed (SU…)
    creds: SecretText | None = None  # the content of a .creds file


class TlsIn(msgspec.Struct, forbid_unknown_fields=True):
    ca_pem: SecretText | None = None
    cert_pem: SecretText | None = None
    key_pem: SecretText | None = None
    handshake_first: bool = False


class TlsPatch(msgspec.Struct, forbid_unknown_fields=True):
    """A PATCH's TLS settings: a field not given (or null) keeps its stored value; `{}`
    removes every TLS setting."""

    ca_pem: SecretText | None = None
    cert_pem: SecretText | None = None
    key_pem: SecretText | None = None
    handshake_first: bool | None = None


class ClusterIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Slug
    servers: Annotated[list[ServerUrl], msgspec.Meta(min_length=1, max_length=64)]
    auth: AuthIn = msgspec.field(default_factory=AuthIn)
    tls: TlsIn | None = None
    system_auth: AuthIn | None = None
    environment: Label | None = None
    labels: dict[str, Label] = msgspec.field(default_factory=dict)
    enabled: bool = True  # false: registered, but its metrics are not collected


class ClusterPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only what is given changes. An auth of the same type without its secret keeps the
    stored secret, and a TLS field not given keeps its stored value; `system_auth: {"type":
    "none"}` and `tls: {}` remove them."""

    name: Slug | None = None
    servers: Annotated[list[ServerUrl], msgspec.Meta(min_length=1, max_length=64)] | None = None
    auth: AuthIn | None = None
    tls: TlsPatch | None = None
    system_auth: AuthIn | None = None
    environment: Label | None = None
    labels: dict[str, Label] | None = None
    enabled: bool | None = None


class ContextImport(msgspec.Struct, forbid_unknown_fields=True):
    """A natscli context (`~/.config/nats/context/NAME.json`) and the content of the files it
    names (creds, nkey, cert, key, ca), keyed by the path written in the context."""

    name: Slug
    context: dict[str, Any]
    files: dict[str, SecretText] = msgspec.field(default_factory=dict)
    environment: Label | None = None


@dataclass
class AuthOut:
    type: str
    username: str | None = None
    password_set: bool = False
    token_set: bool = False
    seed_set: bool = False
    creds_set: bool = False


@dataclass
class TlsOut:
    ca_pem: str | None
    cert_pem: str | None
    key_pem_set: bool
    handshake_first: bool


@dataclass
class ClusterOut:
    id: uuid.UUID
    name: str
    servers: list[str]
    auth: AuthOut
    tls: TlsOut | None
    system_auth: AuthOut | None
    environment: str | None
    labels: dict[str, str]
    enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass
class ConnectionTest:
    ok: bool
    server_version: str | None = None
    rtt_ms: float | None = None
    jetstream: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


@dataclass
class Overview:
    source: str  # "system" ($SYS, every server) or "account" (what the account can see)
    servers: list[dict[str, Any]]
    jetstream: dict[str, Any]
    meta: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
