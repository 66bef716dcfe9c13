"""Secrets at rest: a webhook's signing key and header values saved through the API are
stored encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from ``cryptography``) under
the key in ``TOCSIN_SECRET_KEY``. Without that key nothing secret is saved at all."""

from __future__ import annotations

from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from monitors.errors import Invalid

MAKE_KEY = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)
NO_KEY = (
    "A destination with a secret can only be saved encrypted, and TOCSIN_SECRET_KEY is not "
    f"set; set it to a Fernet key (make one with: {MAKE_KEY}) and restart Tocsin"
)


class SecretsUnavailable(Invalid):
    """There is no key to encrypt with (TOCSIN_SECRET_KEY is not set)."""


class SecretUnreadable(ValueError):
    """A saved secret that this key cannot decrypt (the key changed or was removed)."""


def check_key(key: str) -> str:
    """``key`` if it is a Fernet key; ValueError saying how to make one if not."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        raise ValueError(
            f"not a Fernet key (32 bytes, url-safe base64); make one with: {MAKE_KEY}"
        ) from None
    return key


class SecretBox:
    """Seals JSON-able values into text and opens them again."""

    def __init__(self, key: str | None) -> None:
        self._fernet = Fernet(check_key(key).encode()) if key else None

    @property
    def available(self) -> bool:
        return self._fernet is not None

    def seal(self, value: Any) -> str:
        if self._fernet is None:
            raise SecretsUnavailable(NO_KEY)
        return self._fernet.encrypt(orjson.dumps(value)).decode()

    def open(self, token: str) -> Any:
        if self._fernet is None:
            raise SecretUnreadable("TOCSIN_SECRET_KEY is not set, so saved secrets cannot be read")
        try:
            return orjson.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise SecretUnreadable(
                "its secret does not decrypt with TOCSIN_SECRET_KEY (was the key changed?)"
            ) from None
