"""Who works here: the active staff members a ticket or a client can be given to."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from models.user import Role, User

ASSIGNABLE_ROLES = (Role.AGENT.value, Role.MANAGER.value)
CHOICES_LIMIT = 500


def staff_choices(actor: Actor, *, needs: Action = Action.VIEW_TICKETS) -> list[tuple[int, str]]:
    """(id, name) of active agents and managers, by name, for assignee and owner pickers.
    `needs`: what the picker's page requires (tickets by default; clients for an owner)."""
    require(actor, needs)
    with session_scope() as session:
        return [
            (row.id, row.name)
            for row in session.execute(
                select(col(User.id), col(User.name))
                .where(col(User.is_active).is_(True), col(User.role).in_(ASSIGNABLE_ROLES))
                .order_by(col(User.name))
                .limit(CHOICES_LIMIT)
            )
        ]
