"""argon2id password hashing, and the strength rule every new password meets."""

from __future__ import annotations

from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
# zxcvbn's matching grows fast with length; past this many characters a password is long
# enough that its start tells us whether it is a pattern.
_SCORED_PREFIX = 100

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a miss costs as long as a hit.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problem(
    password: str, *, min_score: int, user_inputs: Iterable[str] = ()
) -> str | None:
    """Why `password` may not be used (a sentence to show), or None when it is fine.

    Length first, then zxcvbn's guessability score (0-4): it knows common and breached
    passwords, keyboard walks, repeats, dates and the user's own name and email."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use a password of at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return "That password is too long."
    inputs = [part for value in user_inputs for part in _words(value)]
    result = zxcvbn(password[:_SCORED_PREFIX], user_inputs=inputs)
    if result["score"] >= min_score:
        return None
    feedback = result.get("feedback") or {}
    reason = feedback.get("warning") or "It is too easy to guess."
    hint = " ".join(feedback.get("suggestions") or []) or "Add a few uncommon words."
    return f"Choose a stronger password. {reason.rstrip('.')}. {hint}".strip()


def _words(value: str) -> list[str]:
    """An email or name as the pieces a guesser would try (`ada.lovelace@firm.example`)."""
    value = (value or "").lower()
    pieces = [value, *value.replace("@", " ").replace(".", " ").replace("-", " ").split()]
    return [piece for piece in pieces if len(piece) >= 3]
