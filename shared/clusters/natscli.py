"""Importing a natscli context as a cluster registration."""

from __future__ import annotations

import msgspec

from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.clusters.registry import register_cluster
from shared.clusters.schemas import AuthIn, ClusterIn, ClusterOut, ContextImport, TlsIn
from shared.errors import Invalid
from shared.nats.connection import creds_file


def context_to_cluster(data: ContextImport) -> ClusterIn:
    """A natscli context (url, user/password, token, creds, nkey, cert/key/ca, tls_first) as
    a cluster registration; the files it names must be given in `files`."""
    context = data.context

    def file(key: str) -> str | None:
        path = context.get(key)
        if not path:
            return None
        if path not in data.files:
            raise Invalid(
                f"The context names {key} file {path!r}: include its content in files",
                code="context_file_missing",
                extra={"path": path, "field": key},
            )
        return data.files[path]

    # Settings JetDeck cannot honour are refused rather than dropped: a cluster that answers
    # on another JetStream domain or only through a proxy would look empty or unreachable.
    unsupported = [key for key in _CONTEXT_UNSUPPORTED if context.get(key)]
    if unsupported:
        raise Invalid(
            f"The context uses {', '.join(unsupported)}, which JetDeck does not support: "
            "register the cluster with the API instead"
            + (
                " (for nsc, export a creds file with `nsc generate creds`)"
                if "nsc" in unsupported
                else ""
            ),
            code="context_unsupported",
            extra={"fields": unsupported},
        )
    url = str(context.get("url") or "nats://127.0.0.1:4222")
    servers = [
        u.strip() if "://" in u else f"nats://{u.strip()}" for u in url.split(",") if u.strip()
    ]
    if context.get("creds"):
        auth = AuthIn(type="creds", creds=file("creds"))
    elif context.get("user_jwt") and context.get("nkey"):
        # A user JWT with its seed (natscli's --user-jwt and --nkey) is what a creds file holds.
        auth = AuthIn(type="creds", creds=creds_file(str(context["user_jwt"]), file("nkey") or ""))
    elif context.get("nkey"):
        auth = AuthIn(type="nkey", seed=(file("nkey") or "").strip())
    elif context.get("token"):
        auth = AuthIn(type="token", token=str(context["token"]))
    elif context.get("user"):
        auth = AuthIn(
            type="user_password",
            username=str(context["user"]),
            password=str(context.get("password") or "") or None,
        )
    else:
        auth = AuthIn()
    tls = None
    if context.get("ca") or context.get("cert") or context.get("tls_first"):
        tls = TlsIn(
            ca_pem=file("ca"),
            cert_pem=file("cert"),
            key_pem=file("key"),
            handshake_first=bool(context.get("tls_first")),
        )
    try:
        return msgspec.convert(
            {
                "name": data.name,
                "servers": servers,
                "auth": msgspec.to_builtins(auth),
                "tls": msgspec.to_builtins(tls) if tls else None,
                "environment": data.environment,
                "labels": {"imported_from": "natscli"},
            },
            ClusterIn,
        )
    except msgspec.ValidationError as exc:
        raise Invalid(f"The context is not usable: {exc}", code="invalid_context") from None


# natscli context settings with no JetDeck equivalent.
_CONTEXT_UNSUPPORTED = ("nsc", "jetstream_domain", "jetstream_api_prefix", "socks_proxy")

# The context key naming the file each checked registration field is read from.
_CONTEXT_FILES = {
    "auth.seed": "nkey",
    "auth.creds": "creds",
    "tls.ca_pem": "ca",
    "tls.cert_pem": "cert",
    "tls.key_pem": "key",
}


async def import_context(backends: Backends, ctx: OrgContext, data: ContextImport) -> ClusterOut:
    try:
        return await register_cluster(backends, ctx, context_to_cluster(data))
    except Invalid as exc:  # a file that cannot be used: say which one
        key = _CONTEXT_FILES.get(str(exc.extra.get("field")))
        if key is None or not data.context.get(key):
            raise
        path = str(data.context[key])
        raise Invalid(
            f"{exc.detail} (the context's {key} file {path!r})",
            code=exc.code,
            extra={**exc.extra, "context_field": key, "path": path},
        ) from None
