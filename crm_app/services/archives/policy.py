"""Who may bring archives in (managers, or agents when a manager allows it) and which
archives an actor may see."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import PermissionDenied
from models.archive import Archive, ArchivePolicy, Confidentiality
from models.base import utcnow


def _policy(session: Session) -> ArchivePolicy:
    row = session.execute(select(ArchivePolicy).order_by(col(ArchivePolicy.id)).limit(1)).scalar()
    return row or ArchivePolicy(agents_may_import=False)


def agents_may_import() -> bool:
    with session_scope() as session:
        return _policy(session).agents_may_import


def may_manage_archives(actor: Actor | None) -> bool:
    """Managers always; agents when a manager allows it (for showing the page)."""
    if can(actor, Action.MANAGE_AI):
        return True
    return can(actor, Action.EDIT_TICKETS) and agents_may_import()


def _require_archive_manager(session: Session, actor: Actor | None) -> Actor:
    if can(actor, Action.MANAGE_AI):
        return actor  # type: ignore[return-value]
    actor = require(actor, Action.EDIT_TICKETS)
    if not _policy(session).agents_may_import:
        raise PermissionDenied("Only managers bring in archives here, unless they allow agents.")
    return actor


def set_agents_may_import(actor: Actor | None, allowed: bool) -> None:
    require(actor, Action.MANAGE_AI)
    with session_scope() as session:
        row = session.execute(
            select(ArchivePolicy).order_by(col(ArchivePolicy.id)).limit(1)
        ).scalar()
        if row is None:
            row = ArchivePolicy()
            session.add(row)
        row.agents_may_import, row.updated_at = bool(allowed), utcnow()
        session.flush()
        audit.record(
            session, actor, "archive.policy", "archive_policy", row.id, {"agents": allowed}
        )


def _visible_archives(actor: Actor | None) -> sa.ColumnElement[bool]:
    if can(actor, Action.MANAGE_AI):
        return sa.true()
    return col(Archive.confidentiality) == Confidentiality.ALL_STAFF
