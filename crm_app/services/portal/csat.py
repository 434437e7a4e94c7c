"""Client satisfaction (CSAT) as staff see it: the rating on a ticket, and an agent's figures
(ratings counted for the agent who held the ticket when the client rated it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import session_scope
from crm_app.services.errors import PermissionDenied
from crm_app.services.tickets.rows import fmt
from models.base import utcnow
from models.portal import TicketRating
from models.ticket import Ticket
from models.user import User

SATISFIED_FROM = 4  # 4 and 5 count as satisfied (the usual CSAT share)


@dataclass(frozen=True)
class RatingRow:
    score: int
    comment: str
    rated_at: str


@dataclass(frozen=True)
class AgentCsat:
    agent_id: int
    agent_name: str
    ratings: int
    average: float
    satisfied_share: float  # 0..1 of ratings that are 4 or 5


def rating_for_ticket(actor: Actor, number: int) -> RatingRow | None:
    """The client's rating of a ticket, for the staff ticket page (None: not rated)."""
    require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        row = session.execute(
            select(col(TicketRating.score), col(TicketRating.comment), col(TicketRating.updated_at))
            .join(Ticket, col(Ticket.id) == col(TicketRating.ticket_id))
            .where(col(Ticket.number) == number)
        ).first()
    return (
        RatingRow(score=row.score, comment=row.comment, rated_at=fmt(row.updated_at))
        if row
        else None
    )


def agent_figures(
    actor: Actor,
    *,
    agent_id: int | None = None,
    days: int = 30,
    start: date | None = None,
    end: date | None = None,
    agent_ids: Sequence[int] = (),
) -> list[AgentCsat]:
    """CSAT per agent over the last `days`, or rated from `start` to `end` (UTC days,
    inclusive: the dashboard's range): an agent sees their own; a manager (dashboards) sees
    everyone's, one agent's with `agent_id`, or a team's with `agent_ids`."""
    require(actor, Action.VIEW_TICKETS)
    if not can(actor, Action.VIEW_DASHBOARDS):
        if (agent_id is not None and agent_id != actor.user_id) or any(
            a != actor.user_id for a in agent_ids
        ):
            raise PermissionDenied("You may see your own satisfaction figures only.")
        agent_id = actor.user_id
    days = min(max(int(days), 1), 366)
    if start is not None and end is not None:
        since = datetime.combine(start, time.min, UTC)
        until = datetime.combine(end + timedelta(days=1), time.min, UTC)
    else:
        since, until = utcnow() - timedelta(days=days), None
    satisfied = func.count().filter(col(TicketRating.score) >= SATISFIED_FROM)
    query = (
        select(
            col(TicketRating.assignee_id),
            col(User.name),
            func.count(),
            func.avg(col(TicketRating.score)),
            satisfied,
        )
        .join(User, col(User.id) == col(TicketRating.assignee_id))
        .where(col(TicketRating.updated_at) >= since)
        .group_by(col(TicketRating.assignee_id), col(User.name))
        .order_by(col(User.name))
    )
    if until is not None:
        query = query.where(col(TicketRating.updated_at) < until)
    if agent_id is not None:
        query = query.where(col(TicketRating.assignee_id) == agent_id)
    if agent_ids:
        query = query.where(col(TicketRating.assignee_id).in_([int(a) for a in agent_ids]))
    with session_scope() as session:
        rows = session.execute(query).tuples().all()
    return [
        AgentCsat(
            agent_id=agent,
            agent_name=name,
            ratings=count,
            average=round(float(average), 2),
            satisfied_share=round(happy / count, 3) if count else 0.0,
        )
        for agent, name, count, average, happy in rows
    ]
