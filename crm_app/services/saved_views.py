"""Queue views: the built-in ones and each agent's own named filter combinations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import Conflict, InvalidInput, NotFound
from crm_app.services.tickets import BUILTIN_VIEWS, QueueFilters, queue_conditions
from models.workspace import SavedView

MAX_VIEWS = 50


@dataclass(frozen=True)
class ViewRow:
    key: str  # a built-in key, or "saved:<id>"
    name: str
    builtin: bool


def list_views(actor: Actor) -> list[ViewRow]:
    """Built-in views first, then the actor's own (nobody sees another agent's views)."""
    require(actor, Action.VIEW_TICKETS)
    rows = [ViewRow(key=key, name=name, builtin=True) for key, (name, _) in BUILTIN_VIEWS.items()]
    with session_scope() as session:
        rows += [
            ViewRow(key=f"saved:{vid}", name=name, builtin=False)
            for vid, name in session.execute(
                select(col(SavedView.id), col(SavedView.name))
                .where(col(SavedView.owner_id) == actor.user_id)
                .order_by(col(SavedView.name))
            )
            .tuples()
            .all()
        ]
    return rows


def view_filters(actor: Actor, key: str) -> QueueFilters:
    require(actor, Action.VIEW_TICKETS)
    if key in BUILTIN_VIEWS:
        return BUILTIN_VIEWS[key][1]
    view_id = key.removeprefix("saved:")
    if not view_id.isdigit():
        raise NotFound("That view does not exist.")
    with session_scope() as session:
        view = session.get(SavedView, int(view_id))
        if view is None or view.owner_id != actor.user_id:
            raise NotFound("That view does not exist.")
        return QueueFilters.from_dict(view.filters)


def save_view(actor: Actor, name: str, filters: QueueFilters) -> ViewRow:
    """Save the current filters under a name of the actor's choosing. Side effects: audited."""
    require(actor, Action.VIEW_TICKETS)
    name = " ".join((name or "").split())
    if not name or len(name) > 80:
        raise InvalidInput("Give the view a name (up to 80 characters).")
    queue_conditions(actor, filters)  # refuse filters the queue would refuse
    try:
        with session_scope() as session:
            count = len(
                session.execute(
                    select(col(SavedView.id)).where(col(SavedView.owner_id) == actor.user_id)
                ).all()
            )
            if count >= MAX_VIEWS:
                raise InvalidInput(f"You can keep at most {MAX_VIEWS} views.")
            assert actor.user_id is not None  # a signed-in agent (checked above)
            view = SavedView(owner_id=actor.user_id, name=name, filters=filters.as_dict())
            session.add(view)
            session.flush()
            audit.record(session, actor, "view.saved", "saved_view", view.id, {"name": name})
            return ViewRow(key=f"saved:{view.id}", name=name, builtin=False)
    except IntegrityError:
        raise Conflict(f"You already have a view called “{name}”.") from None


def delete_view(actor: Actor, key: str) -> None:
    require(actor, Action.VIEW_TICKETS)
    view_id = key.removeprefix("saved:")
    with session_scope() as session:
        view = session.get(SavedView, int(view_id)) if view_id.isdigit() else None
        if view is None or view.owner_id != actor.user_id:
            raise NotFound("That view does not exist.")
        audit.record(session, actor, "view.deleted", "saved_view", view.id, {"name": view.name})
        session.delete(view)
