"""Secrets at rest (mailbox passwords, API keys): encrypted with Fernet under the app's key.

The key is `CRM_SECRET_KEY` when set, else one generated once into `<data dir>/secret.key`
(readable by the owner only). Losing the key makes stored secrets unreadable, by design.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from crm_app.settings import get_settings


class SecretUnreadable(Exception):
    """A stored secret could not be decrypted (wrong key or tampered value)."""


@lru_cache(maxsize=1)
def _key_material() -> str:
    settings = get_settings()
    material = settings.secret_key
    if not material:
        key_file = settings.data_dir / "secret.key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(Fernet.generate_key().decode())
        material = key_file.read_text().strip()
    return material


@lru_cache(maxsize=1)
def _fernet() -> Fernet:
    digest = hashlib.sha256(_key_material().encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("A stored secret could not be decrypted with this key.") from error


def sign(message: str) -> str:
    """An HMAC of `message` under the app's key: proof that the app itself wrote it."""
    key = hashlib.sha256(b"sign:" + _key_material().encode()).digest()
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()[:32]


def signed_by_app(message: str, signature: str) -> bool:
    return hmac.compare_digest(sign(message), signature or "")
