"""Access tokens (JWT, HS256 with a subkey of the server key) and opaque refresh tokens."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from shared.accounts.keys import JWT_PURPOSE, TOKEN_PURPOSE, digest, random_token, subkey
from shared.config import Settings
from shared.errors import NotAuthenticated

ISSUER = "jetdeck"
AUDIENCE = "jetdeck-api"
ALGORITHM = "HS256"
REFRESH_PREFIX = "jdr_"
API_KEY_PREFIX = "jdk_"


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    login_id: uuid.UUID
    jti: str
    expires: int  # seconds since the epoch


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105


def issue_access_token(settings: Settings, user_id: uuid.UUID, login_id: uuid.UUID) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "sid": str(login_id),
        "iat": now,
        "exp": now + settings.app.access_token_ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, subkey(settings, JWT_PURPOSE), algorithm=ALGORITHM)


def read_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            subkey(settings, JWT_PURPOSE),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["iss", "aud", "sub", "exp", "iat", "jti", "sid"]},
        )
        return AccessClaims(
            uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), claims["jti"], int(claims["exp"])
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("The access token has expired.", code="token_expired") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise NotAuthenticated("The access token is not valid.", code="invalid_token") from exc


def new_refresh_token() -> str:
    return random_token(REFRESH_PREFIX)


def token_digest(settings: Settings, token: str) -> str:
    """Digest of an opaque token (refresh token, invitation), the only form stored."""
    return digest(settings, TOKEN_PURPOSE, token)
