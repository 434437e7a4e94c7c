"""The visitor's credential: what the widget keeps in the browser's storage (and other front
ends get back from the API) so a conversation continues after a reload.

`v1.<secret>.<expires>.<signature>`: the secret is random and only its hash is stored (on the
visitor's row); the app's signature binds it to the site and to its expiry, so a credential
cannot be moved to another site nor kept alive past its date by the browser. Anything else
(a visitor id, a bare secret, an altered date) is refused. Every call checks it again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_app.crypto import sign, signed_by_app
from crm_app.services.errors import PermissionDenied

# A conversation the visitor has not come back to for this long is forgotten by the browser.
VALID_FOR = timedelta(days=30)
_VERSION = "v1"
MAX_LENGTH = 120
ENDED = "This chat has ended: start a new one."


@dataclass(frozen=True)
class Credential:
    secret: str
    expires_at: int  # unix seconds


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def _payload(public_id: str, secret: str, expires_at: int) -> str:
    return f"chat_visitor|{public_id}|{secret}|{expires_at}"


def issue(public_id: str, secret: str, now: datetime) -> str:
    """A credential for the visitor holding `secret` on site `public_id`, valid from `now`."""
    expires_at = int((now + VALID_FOR).timestamp())
    signature = sign(_payload(public_id, secret, expires_at))
    return f"{_VERSION}.{secret}.{expires_at}.{signature}"


def verify(public_id: str, credential: object, now: datetime) -> Credential:
    """The credential's secret, when the app signed it for this site and it has not expired;
    PermissionDenied otherwise (the same answer whatever was wrong)."""
    if not isinstance(credential, str) or len(credential) > MAX_LENGTH:
        raise PermissionDenied(ENDED)
    parts = credential.split(".")
    if len(parts) != 4 or parts[0] != _VERSION or not parts[2].isdigit() or not parts[1]:
        raise PermissionDenied(ENDED)
    _, secret, expires, signature = parts
    expires_at = int(expires)
    if not signed_by_app(_payload(public_id, secret, expires_at), signature):
        raise PermissionDenied(ENDED)
    if expires_at <= now.timestamp():
        raise PermissionDenied(ENDED)
    return Credential(secret=secret, expires_at=expires_at)
