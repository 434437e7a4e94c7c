"""Audit entries, written inside the same transaction as the change they record."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from crm_app.auth.permissions import Actor
from models.audit import AuditLog


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
