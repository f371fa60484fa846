"""A cluster's secrets: split from what may be shown, merged with the stored ones on a change
(a same-type auth without its secret keeps the stored one), checked before anything is kept."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shared.clusters.models import Cluster
from shared.clusters.schemas import AuthIn, AuthOut, TlsIn, TlsPatch, check_auth, check_tls
from shared.errors import Invalid

SECRET_FIELDS = ("password", "token", "seed", "creds")
TLS_FIELDS = ("ca_pem", "cert_pem", "key_pem", "handshake_first")
REQUIRED = {
    "user_password": ("username", "password"),
    "token": ("token",),
    "nkey": ("seed",),
    "creds": ("creds",),
    "none": (),
}


def without_credentials(url: str) -> tuple[str, str | None]:
    """(`url` without its `user:password@` or `token@`, that userinfo or None). A password in
    a server URL is a secret like any other: stored encrypted, never shown."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, None
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), userinfo


def with_credentials(url: str, userinfo: str | None) -> str:
    if not userinfo:
        return url
    parts = urlsplit(url)
    return urlunsplit(
        (parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment)
    )


def _split_servers(
    servers: list[str], kept: dict[str, str] | None
) -> tuple[list[str], dict[str, str]]:
    """(servers without credentials, credentials by server). A server given again without its
    credentials keeps the stored ones, as an auth of the same type keeps its password."""
    clean, credentials = [], {}
    for url in servers:
        bare, userinfo = without_credentials(url)
        clean.append(bare)
        if userinfo:
            credentials[bare] = userinfo
        elif kept and bare in kept:
            credentials[bare] = kept[bare]
    return clean, credentials


def _split_auth(
    auth: AuthIn, field: str, kept: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain part, secret part) of an auth, keeping stored secrets a same-type patch omits.
    A secret given is checked (`field` names the auth in an error); a kept one was already."""
    check_auth(auth, field)
    plain = {"type": auth.type, "username": auth.username if auth.type == "user_password" else None}
    secrets = {k: getattr(auth, k) for k in SECRET_FIELDS if getattr(auth, k)}
    if kept and kept.get("type") == auth.type:
        secrets = {**{k: v for k, v in kept.items() if k in SECRET_FIELDS}, **secrets}
    secrets = {k: v for k, v in secrets.items() if k in REQUIRED[auth.type]}
    missing = [k for k in REQUIRED[auth.type] if not (plain.get(k) or secrets.get(k))]
    if missing:
        raise Invalid(
            f"Auth type {auth.type!r} needs {', '.join(missing)}",
            code="invalid_auth",
            extra={"missing": missing},
        )
    return plain, {"type": auth.type, **secrets}


def auth_out(plain: dict[str, Any] | None, secret: dict[str, Any]) -> AuthOut | None:
    if plain is None:
        return None
    return AuthOut(
        type=plain["type"],
        username=plain.get("username"),
        **{f"{k}_set": bool(secret.get(k)) for k in SECRET_FIELDS},
    )


def apply_change(
    cluster: Cluster,
    secrets: dict[str, Any],
    *,
    servers: list[str] | None,
    auth: AuthIn | None,
    tls: TlsIn | TlsPatch | None,
    system_auth: AuthIn | None,
) -> dict[str, Any]:
    secrets = dict(secrets)
    if servers is not None:
        cluster.servers, credentials = _split_servers(
            list(servers), secrets.get("server_credentials")
        )
        if credentials:
            secrets["server_credentials"] = credentials
        else:
            secrets.pop("server_credentials", None)
    if auth is not None:
        cluster.auth, secrets["auth"] = _split_auth(auth, "auth", secrets.get("auth"))
    if system_auth is not None:
        if system_auth.type == "none":
            cluster.system_auth, _ = None, secrets.pop("system_auth", None)
        else:
            cluster.system_auth, secrets["system_auth"] = _split_auth(
                system_auth, "system_auth", secrets.get("system_auth")
            )
    if tls is not None:
        # A field not given (null) keeps the stored value; nothing given (`tls: {}`) removes.
        given = {f: value for f in TLS_FIELDS if (value := getattr(tls, f)) is not None}
        stored = {**(cluster.tls or {}), "key_pem": secrets.get("tls", {}).get("key_pem")}
        merged = {**stored, **given} if given else {}
        if not any(merged.get(f) for f in TLS_FIELDS):
            cluster.tls, _ = None, secrets.pop("tls", None)
        else:
            if bool(merged.get("cert_pem")) != bool(merged.get("key_pem")):
                raise Invalid(
                    "A TLS client certificate needs its key, and a key its certificate",
                    code="invalid_tls",
                )
            check_tls(given, merged)
            cluster.tls = {
                "ca_pem": merged.get("ca_pem"),
                "cert_pem": merged.get("cert_pem"),
                "handshake_first": bool(merged.get("handshake_first")),
            }
            key = merged.get("key_pem")
            secrets["tls"] = {"key_pem": key} if key else {}
    return secrets
