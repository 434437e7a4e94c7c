"""Assignment: agents mark themselves available; a manager turns on round-robin, which hands
unassigned tickets to available agents in turn. The turn is kept in one row locked for the
moment of the choice, so any number of web workers and jobs share one fair rotation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit, events
from crm_app.services.errors import InvalidInput
from models.base import utcnow
from models.ticket import Ticket
from models.user import Role, User
from models.workspace import AssignmentSetting


@dataclass(frozen=True)
class AssignmentStatus:
    round_robin_enabled: bool
    available_agents: list[str]
    you_are_available: bool = False


def _setting(session: Session) -> AssignmentSetting:
    session.execute(
        insert(AssignmentSetting)
        .values(id=1, round_robin_enabled=False, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return session.execute(
        select(AssignmentSetting).where(col(AssignmentSetting.id) == 1).with_for_update()
    ).scalar_one()


def status(actor: Actor) -> AssignmentStatus:
    require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        setting = session.get(AssignmentSetting, 1)
        names = list(
            session.scalars(
                select(col(User.name))
                .where(
                    col(User.role) == Role.AGENT,
                    col(User.is_active).is_(True),
                    col(User.is_available).is_(True),
                )
                .order_by(col(User.name))
            )
        )
        me = session.get(User, actor.user_id) if actor.user_id is not None else None
    return AssignmentStatus(
        round_robin_enabled=bool(setting and setting.round_robin_enabled),
        available_agents=names,
        you_are_available=bool(me and me.is_available),
    )


def set_round_robin(actor: Actor, enabled: bool) -> None:
    """Managers only (they manage who works what). Side effects: audited."""
    require(actor, Action.MANAGE_USERS)
    with session_scope() as session:
        setting = _setting(session)
        setting.round_robin_enabled, setting.updated_at = enabled, utcnow()
        audit.record(
            session, actor, "assignment.round_robin", "assignment_setting", 1, {"enabled": enabled}
        )


def set_available(actor: Actor, available: bool) -> None:
    """An agent marks themself available (or away) for round-robin assignment."""
    require(actor, Action.EDIT_TICKETS)
    with session_scope() as session:
        user = session.get(User, actor.user_id)
        if user is None:
            raise InvalidInput("Only a signed-in staff member can change availability.")
        user.is_available = available
        audit.record(session, actor, "user.availability", "user", user.id, {"available": available})


def next_agent(session: Session) -> int | None:
    """The next available agent after the last one served (None when round-robin is off or
    nobody is available). Call inside the transaction that assigns the ticket."""
    setting = _setting(session)
    if not setting.round_robin_enabled:
        return None
    available = select(col(User.id)).where(
        col(User.role) == Role.AGENT,
        col(User.is_active).is_(True),
        col(User.is_available).is_(True),
    )
    after = setting.last_assignee_id or 0
    chosen = session.execute(
        available.where(col(User.id) > after).order_by(col(User.id)).limit(1)
    ).scalar_one_or_none()
    if chosen is None:
        chosen = session.execute(available.order_by(col(User.id)).limit(1)).scalar_one_or_none()
    if chosen is not None:
        setting.last_assignee_id, setting.updated_at = chosen, utcnow()
    return chosen


def assign_round_robin(actor: Actor, numbers: Sequence[int]) -> int:
    """Give the selected unassigned tickets to available agents in turn; returns how many.

    Intake paths (mail, chat, portal) call `next_agent` in their own transaction instead.
    Side effects: each assignment is audited like a manual one (the ticket's history names the
    agent, marked round-robin) and moves the ticket's version. After the commit: emits
    `ticket.assigned` per ticket (the agent is notified).
    """
    require(actor, Action.EDIT_TICKETS)
    if not numbers:
        raise InvalidInput("Select at least one ticket.")
    emitted: list[events.Event] = []
    with session_scope() as session:
        if not _setting(session).round_robin_enabled:
            raise InvalidInput("Round-robin is off: a manager turns it on under Assignment.")
        for ticket in session.scalars(
            select(Ticket)
            .where(col(Ticket.number).in_(list(numbers)), col(Ticket.assignee_id).is_(None))
            .order_by(col(Ticket.id))
            .with_for_update()
        ):
            agent_id = next_agent(session)
            if agent_id is None:
                raise InvalidInput("No agent is marked available right now.")
            agent = session.get(User, agent_id)
            ticket.assignee_id = agent_id
            ticket.version += 1
            ticket.updated_at = utcnow()
            audit.record(
                session,
                actor,
                "ticket.assigned",
                "ticket",
                ticket.id,
                {"assignee": [None, agent.name if agent else agent_id], "round_robin": True},
            )
            emitted.append(
                events.Event(
                    "ticket.assigned",
                    actor=actor,
                    ticket_id=ticket.id,
                    number=ticket.number,
                    subject=ticket.subject,
                    payload={"assignee_id": agent_id, "round_robin": True},
                )
            )
    for event in emitted:
        events.emit(event)
    return len(emitted)
