"""A signed-in person's own preferences: the time zone dates are shown in."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlmodel import col

from crm_app.auth.permissions import Actor
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput, NotAuthenticated
from models.user import User


@lru_cache(maxsize=1)
def time_zone_names() -> tuple[str, ...]:
    """IANA zone names a person can choose ("Europe/London"), sorted; legacy aliases left out."""
    return tuple(
        sorted(
            name
            for name in available_timezones()
            if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/"))
        )
    )


def _own(actor: Actor | None) -> int:
    if actor is None or actor.user_id is None:
        raise NotAuthenticated("Your session has ended: please sign in again.")
    return actor.user_id


def time_zone(actor: Actor | None) -> str:
    """The zone this person chose, or "" for the browser's own."""
    user_id = _own(actor)
    with session_scope() as session:
        return (
            session.execute(
                select(col(User.time_zone)).where(col(User.id) == user_id)
            ).scalar_one_or_none()
            or ""
        )


def set_time_zone(actor: Actor | None, name: str) -> str:
    """Choose a zone by IANA name, or "" for the browser's own. Audited on the user."""
    user_id = _own(actor)
    name = (name or "").strip()
    if name and name not in time_zone_names():
        raise InvalidInput("Choose a time zone from the list (like Europe/London).")
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotAuthenticated("Your session has ended: please sign in again.")
        before = user.time_zone or ""
        if before != name:
            user.time_zone = name or None
            audit.record(
                session,
                actor,
                "user.time_zone_changed",
                "user",
                user_id,
                {"time_zone": [before or None, name or None]},
            )
    return name
