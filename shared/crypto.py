"""Secrets at rest: Fernet (cryptography) with `settings.app.encryption_key`."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from shared.config import Settings
from shared.errors import Unavailable


def _fernet(settings: Settings) -> Fernet:
    key = settings.app.encryption_key
    if not key:
        raise Unavailable(
            "Storing secrets needs JETDECK_ENCRYPTION_KEY (a Fernet key).",
            code="encryption_key_missing",
        )
    return Fernet(key.encode())


def encrypt_json(settings: Settings, value: dict[str, Any]) -> str:
    return _fernet(settings).encrypt(json.dumps(value).encode()).decode()


def decrypt_json(settings: Settings, token: str | None) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return dict(json.loads(_fernet(settings).decrypt(token.encode())))
    except InvalidToken:
        raise Unavailable(
            "Stored secrets cannot be decrypted: JETDECK_ENCRYPTION_KEY changed?",
            code="secrets_undecryptable",
        ) from None
