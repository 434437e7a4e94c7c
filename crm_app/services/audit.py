"""Audit entries, written inside the same transaction as the change they record."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session

from crm_app.auth.permissions import Actor
from crm_app.services import bulk
from models.audit import AuditLog
from models.base import utcnow


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    entity_type: str,
    entity_id: int | None,
    changes: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        actor_id=actor.user_id if actor else None,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes=changes or {},
    )
    session.add(entry)
    return entry


def record_many(
    session: Session,
    actor: Actor | None,
    entries: Iterable[tuple[str, str, int | None, dict[str, Any] | None]],
) -> int:
    """`record` for many entries of one bulk action (action, entity type, entity id, changes),
    in order and in one statement; returns how many were written."""
    now = utcnow()
    rows = [
        {
            "actor_id": actor.user_id if actor else None,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "changes": changes or {},
            "created_at": now,
        }
        for action, entity_type, entity_id, changes in entries
    ]
    bulk.insert_rows(session, AuditLog.__tablename__, rows)
    return len(rows)
