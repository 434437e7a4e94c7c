"""Ticket tags: short lower-case labels ("kyc", "wire-transfer") that agents and macros put on
tickets, filter the queue by, and pick from the names already in use."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput
from models import Tag

MAX_TAGS = 20
MAX_LENGTH = 40
_TAG = re.compile(r"^[a-z0-9][a-z0-9 _./&+-]*$")


def clean_tag(raw: str) -> str:
    """One tag as stored: trimmed, lower case, inner spaces collapsed; refused when empty,
    too long or made of other characters than letters, digits and - _ . / & +."""
    if not isinstance(raw, str):
        raise InvalidInput("A tag is a short text.")
    tag = " ".join(raw.strip().lower().split())
    if not tag:
        raise InvalidInput("Write a tag first.")
    if len(tag) > MAX_LENGTH:
        raise InvalidInput(f"A tag has at most {MAX_LENGTH} characters.")
    if not _TAG.match(tag):
        raise InvalidInput("A tag holds letters, digits, spaces and - _ . / & + only.")
    return tag


def clean_tags(raw: Iterable[str]) -> list[str]:
    """Tags cleaned, duplicates dropped, first-seen order kept, at most MAX_TAGS."""
    tags = list(dict.fromkeys(clean_tag(t) for t in raw))
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"A ticket has at most {MAX_TAGS} tags.")
    return tags


def parse_list(text: str) -> list[str]:
    """Tags typed as one comma-separated text ("kyc, wire transfer")."""
    return clean_tags(part for part in (text or "").split(",") if part.strip())


def remember(session: Session, tags: Sequence[str]) -> None:
    """Add tags to the catalog the picker suggests from (names only; never removed)."""
    if tags:
        session.execute(insert(Tag).values([{"name": t} for t in tags]).on_conflict_do_nothing())


def suggest(actor: Actor, prefix: str, *, limit: int = 8) -> list[str]:
    """Tag names in use that start with `prefix` (or contain it), for the picker."""
    require(actor, Action.VIEW_TICKETS)
    text = " ".join(str(prefix or "").strip().lower().split())[:MAX_LENGTH]
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    table: sa.Table = Tag.__table__  # type: ignore[attr-defined]  # set by SQLModel's metaclass
    with session_scope() as session:
        starts: sa.ScalarResult[str] = session.scalars(
            sa.select(table.c.name)
            .where(table.c.name.like(f"{escaped}%", escape="\\"))
            .order_by(table.c.name)
            .limit(limit)
        )
        found = list(starts)
        if text and len(found) < limit:
            contains: sa.ScalarResult[str] = session.scalars(
                sa.select(table.c.name)
                .where(table.c.name.like(f"%{escaped}%", escape="\\"))
                .where(table.c.name.notin_(found or [""]))
                .order_by(table.c.name)
                .limit(limit - len(found))
            )
            found += list(contains)
    return found
