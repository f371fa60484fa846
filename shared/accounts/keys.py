"""Secrets derived from the server key, random tokens, and their digests.

The server key (`JETDECK_SECRET_KEY`) is never used directly: each purpose gets its own
subkey (HMAC-SHA256 of the key and the purpose's name), so a JWT signature can never stand
in for an API-key digest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from shared.config import Settings

JWT_PURPOSE = "jetdeck/jwt-signing/v1"
API_KEY_PURPOSE = "jetdeck/api-key-digest/v1"
TOKEN_PURPOSE = "jetdeck/opaque-token-digest/v1"  # noqa: S105 - a label, not a secret


class MissingSecretKey(RuntimeError):
    def __init__(self) -> None:
        super().__init__("JETDECK_SECRET_KEY is required to sign tokens and check API keys")


def server_key(settings: Settings) -> str:
    key = settings.app.secret_key
    if not key:
        raise MissingSecretKey()
    return key


@lru_cache(maxsize=16)
def _subkey(key: str, purpose: str) -> bytes:
    return hmac.new(key.encode(), purpose.encode(), hashlib.sha256).digest()


def subkey(settings: Settings, purpose: str) -> bytes:
    return _subkey(server_key(settings), purpose)


def digest(settings: Settings, purpose: str, secret: str) -> str:
    """HMAC-SHA256 hex digest of a high-entropy secret under the purpose's subkey."""
    return hmac.new(subkey(settings, purpose), secret.encode(), hashlib.sha256).hexdigest()


def random_token(prefix: str, nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
