"""What the clusters API accepts and returns. Secrets go in, never out: responses say which
secrets are set (`password_set`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

import jwt
import msgspec
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from shared.accounts.schemas import Slug
from shared.errors import Invalid
from shared.nats.connection import CredentialsError, split_creds, user_keypair

AuthType = Literal["none", "user_password", "token", "nkey", "creds"]
ServerUrl = Annotated[str, msgspec.Meta(pattern=r"^(nats|tls|ws|wss)://\S+$", max_length=500)]
SecretText = Annotated[str, msgspec.Meta(min_length=1, max_length=65536)]
Label = Annotated[str, msgspec.Meta(max_length=200)]
Environment = Annotated[str, msgspec.Meta(max_length=63)]  # the column's width


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
    environment: Environment | None = None
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
    environment: Environment | None = None
    labels: dict[str, Label] | None = None
    enabled: bool | None = None


class ContextImport(msgspec.Struct, forbid_unknown_fields=True):
    """A natscli context (`~/.config/nats/context/NAME.json`) and the content of the files it
    names (creds, nkey, cert, key, ca), keyed by the path written in the context."""

    name: Slug
    context: dict[str, Any]
    files: dict[str, SecretText] = msgspec.field(default_factory=dict)
    environment: Environment | None = None


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
    # A server URL was given with `user:password@` (or `token@`): kept as a secret, shown
    # without it.
    server_credentials_set: bool = False


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


# Secrets are checked when a cluster is registered or changed, so a malformed one is a 400
# naming its field then, not a failed `…/test` later. A message never repeats the secret.


def _refuse(field: str, problem: str, code: str) -> Invalid:
    return Invalid(f"{field}: {problem}", code=code, extra={"field": field})


def check_auth(auth: AuthIn, field: str) -> None:
    """Refuse a given nkey seed or creds file that could not sign in (`field` is `auth` or
    `system_auth`). Only what the auth type uses is checked."""
    name = f"{field}.seed" if auth.type == "nkey" else f"{field}.creds"
    try:
        if auth.type == "nkey" and auth.seed:
            user_keypair(auth.seed, "the seed")
        elif auth.type == "creds" and auth.creds:
            user_jwt, seed = split_creds(auth.creds)
            keypair = user_keypair(seed, "the creds file's seed")
            try:
                claims = jwt.decode(user_jwt, options={"verify_signature": False})
            except jwt.InvalidTokenError:
                raise CredentialsError("the creds file's JWT is not a valid JWT") from None
            if claims.get("sub") != keypair.public_key.decode():
                raise CredentialsError("the creds file's seed is not the key of its user JWT")
    except CredentialsError as exc:
        raise _refuse(name, str(exc), "invalid_auth") from None


def _certificates(pem: str, field: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise _refuse(field, "not a PEM certificate", "invalid_tls") from None


def check_tls(given: dict[str, Any], merged: dict[str, Any]) -> None:
    """Refuse a given CA, client certificate or key that is not PEM, a key that is encrypted,
    and a client certificate and key (given, or one of them stored) that do not belong
    together."""
    if given.get("ca_pem"):
        _certificates(given["ca_pem"], "tls.ca_pem")
    if given.get("cert_pem"):
        _certificates(given["cert_pem"], "tls.cert_pem")
    if given.get("key_pem"):
        _private_key(given["key_pem"])
    cert_pem, key_pem = merged.get("cert_pem"), merged.get("key_pem")
    if (given.get("cert_pem") or given.get("key_pem")) and cert_pem and key_pem:
        certificate = _certificates(cert_pem, "tls.cert_pem")[0]
        if _spki(certificate.public_key()) != _spki(_private_key(key_pem).public_key()):
            # Name what was given: a new certificate for the stored key, or a new key.
            field = "tls.key_pem" if given.get("key_pem") else "tls.cert_pem"
            raise _refuse(
                field, "the client certificate and the key do not belong together", "invalid_tls"
            )


def _private_key(pem: str) -> Any:
    try:
        return load_pem_private_key(pem.encode(), password=None)
    except TypeError:  # encrypted: nothing could give its password when connecting
        raise _refuse(
            "tls.key_pem", "the key is encrypted; give it unencrypted", "invalid_tls"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise _refuse("tls.key_pem", "not a PEM private key", "invalid_tls") from None


def _spki(public_key: Any) -> bytes:
    return bytes(public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
