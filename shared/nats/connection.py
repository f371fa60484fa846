"""How to reach a cluster: servers, credentials, TLS. Plain values; no secrets are logged."""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import tempfile
from dataclasses import astuple, dataclass, field
from typing import Any, Literal

AuthKind = Literal["none", "user_password", "token", "nkey", "creds"]

# The blocks of a `.creds` file as `nsc` writes them (nats-py reads the same markers).
_CREDS_BLOCK = r"-{3,}BEGIN %s-{3,}\s*(\S+)\s*-{3,}END %s-{3,}"
_CREDS_JWT = re.compile(_CREDS_BLOCK % ("NATS USER JWT", "NATS USER JWT"))
_CREDS_SEED = re.compile(_CREDS_BLOCK % ("USER NKEY SEED", "USER NKEY SEED"))


class CredentialsError(ValueError):
    """The credentials cannot be used as given (a malformed seed or creds file): nothing was
    sent to the server. The message names what is wrong, never the secret."""


def user_keypair(seed: str, what: str = "the nkey seed") -> Any:
    """The nkeys key pair of a user seed (`SU…`). nkeys' decoder alone skips the checksum, so
    the seed is re-encoded and compared."""
    import nkeys

    encoded = seed.strip().encode()
    try:
        role, raw = nkeys.decode_seed(encoded)
        if nkeys.encode_seed(raw, role) != encoded:
            raise nkeys.ErrInvalidSeed()
        keypair = nkeys.from_seed(encoded)
    except (nkeys.NkeysError, ValueError):
        raise CredentialsError(f"{what} is not a valid nkey seed") from None
    if role != nkeys.PREFIX_BYTE_USER:
        raise CredentialsError(f"{what} is not a user nkey seed (SU…)")
    return keypair


def creds_file(user_jwt: str, seed: str) -> str:
    """A `.creds` file's content, laid out as `nsc` writes it."""
    return (
        f"-----BEGIN NATS USER JWT-----\n{user_jwt.strip()}\n------END NATS USER JWT------\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{seed.strip()}\n------END USER NKEY SEED------\n"
    )


def split_creds(creds: str) -> tuple[str, str]:
    """The user JWT and the seed of a `.creds` file's content."""
    jwt, seed = _CREDS_JWT.search(creds), _CREDS_SEED.search(creds)
    if jwt is None or seed is None:
        raise CredentialsError("the creds file has no user JWT or no user nkey seed block")
    return jwt.group(1), seed.group(1)


@dataclass(frozen=True)
class Auth:
    kind: AuthKind = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    nkey_seed: str | None = field(default=None, repr=False)
    creds: str | None = field(default=None, repr=False)  # the content of a .creds file


@dataclass(frozen=True)
class Tls:
    ca_pem: str | None = field(default=None, repr=False)
    cert_pem: str | None = field(default=None, repr=False)
    key_pem: str | None = field(default=None, repr=False)
    handshake_first: bool = False

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if self.ca_pem:
            ctx.load_verify_locations(cadata=self.ca_pem)
        if self.cert_pem and self.key_pem:
            # The ssl module loads a client key only from files: write them privately, briefly.
            with tempfile.TemporaryDirectory(prefix="jetdeck-tls-") as tmp:
                cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
                for path, pem in ((cert, self.cert_pem), (key, self.key_pem)):
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "w") as f:
                        f.write(pem)
                ctx.load_cert_chain(cert, key)
        return ctx


@dataclass(frozen=True)
class ConnectionSpec:
    servers: tuple[str, ...]
    auth: Auth = Auth()
    tls: Tls | None = None
    name: str = "jetdeck"
    # The name a TLS certificate must carry when `servers` were pinned to checked addresses
    # (shared/clusters/addresses.py).
    tls_hostname: str | None = None

    def fingerprint(self) -> str:
        """Changes whenever anything that affects the connection changes (pool key). Hashes
        the secrets' values: `repr` leaves them out, so a changed password would not count."""
        tls = astuple(self.tls) if self.tls is not None else None
        return hashlib.sha256(
            repr((self.servers, astuple(self.auth), tls, self.name, self.tls_hostname)).encode()
        ).hexdigest()

    def connect_options(self) -> dict[str, Any]:
        from nats.aio.client import RawCredentials

        options: dict[str, Any] = {"servers": list(self.servers), "name": self.name}
        auth = self.auth
        if auth.kind == "user_password":
            options.update(user=auth.username, password=auth.password)
        elif auth.kind == "token":
            options.update(token=auth.token)
        elif auth.kind == "nkey":
            user_keypair(auth.nkey_seed or "")
            options.update(nkeys_seed_str=auth.nkey_seed)
        elif auth.kind == "creds":
            # nats-py reads a creds file line by line when connecting: without a JWT block it
            # loops forever (blocking the event loop), without a seed block it fails with a
            # TypeError, and CRLF line ends or a missing last newline corrupt what it reads.
            # So check both blocks here and hand it the canonical layout.
            jwt, seed = split_creds(auth.creds or "")
            user_keypair(seed, "the creds file's seed")
            options.update(user_credentials=RawCredentials(creds_file(jwt, seed)))
        if self.tls is not None:
            options.update(tls=self.tls.context(), tls_handshake_first=self.tls.handshake_first)
        if self.tls_hostname:
            options.update(tls_hostname=self.tls_hostname)
        return options
