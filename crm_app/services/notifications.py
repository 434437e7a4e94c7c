"""In-app notifications for staff: a ticket assigned to me, a client answering on my ticket,
an `@mention` in an internal note, and an SLA about to be breached on my ticket.

Written after the commit of the change that caused them, as subscribers of its event
(`crm_app.services.events`: ticket.created, ticket.assigned, message.added; best effort: a
failure is logged and never undoes or fails the reply or assignment), and by the SLA scan
(`notify_sla_near_breach`, once per ticket and assignee). Read and marked read by the
signed-in user, for their own notifications only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import col

from crm_app import routes
from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import get_engine, session_scope
from crm_app.services import events
from crm_app.services.errors import NotFound
from crm_app.services.staff import ASSIGNABLE_ROLES
from models.base import utcnow
from models.notification import Notification
from models.ticket import OPEN_STATUSES, SlaState
from models.user import User

log = logging.getLogger(__name__)

LIST_LIMIT = 20
_SUBJECT_CHARS = 120


class NotificationKind(StrEnum):
    ASSIGNED = "assigned"
    CLIENT_REPLIED = "client_replied"
    MENTIONED = "mentioned"
    SLA_NEAR_BREACH = "sla_near_breach"


@dataclass(frozen=True)
class NotificationRow:
    id: int
    kind: str
    title: str
    link: str
    created_at: str
    is_read: bool


def _short(subject: str) -> str:
    subject = " ".join((subject or "").split())
    return subject if len(subject) <= _SUBJECT_CHARS else subject[: _SUBJECT_CHARS - 1] + "…"


def _deliver(
    user_ids: Iterable[int | None],
    kind: NotificationKind,
    title: str,
    *,
    ticket_id: int,
    number: int,
    skip: int | None = None,
) -> int:
    """Insert one notification per user (not `skip`, the one who caused it). Best effort."""
    recipients = sorted({uid for uid in user_ids if uid is not None and uid != skip})
    if not recipients:
        return 0
    try:
        with session_scope() as session:
            now = utcnow()
            session.add_all(
                Notification(
                    user_id=uid,
                    kind=kind.value,
                    title=title[:300],
                    link=routes.ticket(number),
                    ticket_id=ticket_id,
                    created_at=now,
                )
                for uid in recipients
            )
    except Exception:  # the change that caused it is committed: never fail it afterwards
        log.exception("notification not written", extra={"kind": kind.value, "number": number})
        return 0
    return len(recipients)


def notify_assigned(
    by: Actor, *, ticket_id: int, number: int, subject: str, assignee_id: int | None
) -> int:
    """Tell the new assignee (unless they assigned it to themselves)."""
    who = f" by {by.name}" if by.name and by.user_id is not None else ""
    return _deliver(
        [assignee_id],
        NotificationKind.ASSIGNED,
        f"#{number} assigned to you{who}: {_short(subject)}",
        ticket_id=ticket_id,
        number=number,
        skip=by.user_id,
    )


def notify_client_replied(
    *, ticket_id: int, number: int, subject: str, client_name: str, assignee_id: int | None
) -> int:
    return _deliver(
        [assignee_id],
        NotificationKind.CLIENT_REPLIED,
        f"{client_name or 'The client'} answered on #{number}: {_short(subject)}",
        ticket_id=ticket_id,
        number=number,
    )


def deliver_client_replied(
    user_ids: Iterable[int | None],
    *,
    ticket_id: int,
    number: int,
    subject: str,
    client_name: str,
    unassigned: bool = False,
    new_request: bool = False,
) -> int:
    """A client's answer (or `new_request`) for several people at once (the queue, when
    nobody holds the ticket)."""
    where = " (unassigned)" if unassigned else ""
    did = "opened" if new_request else "answered on"
    return _deliver(
        user_ids,
        NotificationKind.CLIENT_REPLIED,
        f"{client_name or 'The client'} {did} #{number}{where}: {_short(subject)}",
        ticket_id=ticket_id,
        number=number,
    )


# An @ that starts a word (so addresses inside the text, x@y.example, are not mentions).
_MENTION_START = re.compile(r"(?<![\w@.])@")


def mention_keys(staff: Sequence[tuple[int, str, str]]) -> dict[str, int]:
    """What may follow `@` to name a staff member: the full name, the email, the email's local
    part, and the first name when no one else has it (all lower case)."""
    keys: dict[str, int] = {}
    first_names: dict[str, set[int]] = {}
    for user_id, name, email in staff:
        name, email = " ".join((name or "").lower().split()), (email or "").lower()
        for key in (name, email, email.split("@", 1)[0]):
            if key:
                keys.setdefault(key, user_id)
        if name:
            first_names.setdefault(name.split()[0], set()).add(user_id)
    for first, ids in first_names.items():
        if len(ids) == 1:
            keys.setdefault(first, next(iter(ids)))
    return keys


def find_mentions(body: str, staff: Sequence[tuple[int, str, str]]) -> set[int]:
    """Ids of the staff members named as `@Full Name`, `@email`, `@local-part` or a unique
    `@First` in `body`; the longest name that fits wins (`@Ann Lee` over `@Ann`)."""
    keys = mention_keys(staff)
    if not keys:
        return set()
    longest = max(map(len, keys))
    found: set[int] = set()
    for match in _MENTION_START.finditer(body or ""):
        rest = body[match.end() : match.end() + longest + 1].lower()
        best = ""
        for key in keys:
            if (
                len(key) > len(best)
                and rest.startswith(key)
                and (
                    len(rest) == len(key)
                    or not (rest[len(key)].isalnum() or rest[len(key)] in "_@")
                )
            ):
                best = key
        if best:
            found.add(keys[best])
    return found


def notify_mentions(author: Actor, *, ticket_id: int, number: int, subject: str, body: str) -> int:
    """Tell every staff member `@named` in an internal note (not the author)."""
    if "@" not in (body or ""):
        return 0
    with session_scope() as session:
        staff = (
            session.execute(
                select(col(User.id), col(User.name), col(User.email))
                .where(col(User.is_active).is_(True), col(User.role).in_(ASSIGNABLE_ROLES))
                .limit(2000)
            )
            .tuples()
            .all()
        )
    mentioned = find_mentions(body, [tuple(row) for row in staff])
    return _deliver(
        mentioned,
        NotificationKind.MENTIONED,
        f"{author.name or 'A colleague'} mentioned you on #{number}: {_short(subject)}",
        ticket_id=ticket_id,
        number=number,
        skip=author.user_id,
    )


@events.subscriber("ticket.created")
@events.subscriber("ticket.assigned")
def _tell_the_new_assignee(event: events.Event) -> None:
    if event.actor is not None and event.ticket_id is not None and event.number is not None:
        notify_assigned(
            event.actor,
            ticket_id=event.ticket_id,
            number=event.number,
            subject=event.subject,
            assignee_id=event.payload.get("assignee_id"),
        )


@events.subscriber("message.added")
def _tell_about_a_message(event: events.Event) -> None:
    if event.ticket_id is None or event.number is None:
        return
    if event.payload.get("from_client"):
        notify_client_replied(
            ticket_id=event.ticket_id,
            number=event.number,
            subject=event.subject,
            client_name=event.payload.get("client_name", ""),
            assignee_id=event.payload.get("assignee_id"),
        )
    elif event.payload.get("internal") and event.actor is not None:
        notify_mentions(
            event.actor,
            ticket_id=event.ticket_id,
            number=event.number,
            subject=event.subject,
            body=event.payload.get("body", ""),
        )


_OPEN = ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)
# One row per (assignee, ticket) ever: the partial unique index makes "once" race-safe.
_SLA_NEAR_BREACH_SQL = sa.text(f"""
INSERT INTO notification (user_id, kind, title, link, ticket_id, created_at)
SELECT t.assignee_id, :kind,
       'SLA near breach on #' || t.number || ': ' || left(t.subject, {_SUBJECT_CHARS}),
       :link_prefix || t.number, t.id, :now
FROM ticket t
WHERE t.sla_state = :state AND t.assignee_id IS NOT NULL AND t.status IN ({_OPEN})
ON CONFLICT DO NOTHING
""")


def notify_sla_near_breach() -> int:
    """Tell each assignee once about each of their open tickets now near an SLA breach.
    Side effects: inserts notifications; returns how many."""
    with get_engine().begin() as conn:
        return conn.execute(
            _SLA_NEAR_BREACH_SQL,
            {
                "kind": NotificationKind.SLA_NEAR_BREACH.value,
                "state": SlaState.NEAR_BREACH.value,
                "link_prefix": routes.ticket(""),
                "now": utcnow(),
            },
        ).rowcount


def _me(actor: Actor | None) -> int:
    require(actor, Action.VIEW_TICKETS)
    assert actor is not None
    if actor.user_id is None:
        raise NotFound("Only a signed-in user has notifications.")
    return actor.user_id


def unread_count(actor: Actor | None) -> int:
    user_id = _me(actor)
    with get_engine().connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(Notification)
                .where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
            ).scalar_one()
        )


def list_notifications(actor: Actor | None, limit: int = LIST_LIMIT) -> list[NotificationRow]:
    """The signed-in user's newest notifications, unread and read."""
    user_id = _me(actor)
    limit = min(max(int(limit), 1), 100)
    with session_scope() as session:
        rows = session.scalars(
            select(Notification)
            .where(col(Notification.user_id) == user_id)
            .order_by(col(Notification.id).desc())
            .limit(limit)
        ).all()
        return [
            NotificationRow(
                id=cast(int, n.id),  # a stored row
                kind=n.kind,
                title=n.title,
                link=n.link or "",
                created_at=n.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                is_read=n.read_at is not None,
            )
            for n in rows
        ]


def do_mark_read(actor: Actor | None, notification_id: int) -> str:
    """Mark one of the user's own notifications read; returns where it points."""
    user_id = _me(actor)
    with session_scope() as session:
        note = session.get(Notification, int(notification_id))
        if note is None or note.user_id != user_id:
            raise NotFound("That notification is gone.")
        if note.read_at is None:
            note.read_at = utcnow()
        return note.link or routes.TICKETS


def do_mark_all_read(actor: Actor | None) -> int:
    user_id = _me(actor)
    with session_scope() as session:
        # An UPDATE's result is a CursorResult (with rowcount); Session.execute says Result.
        return cast(
            sa.CursorResult[Any],
            session.execute(
                sa.update(Notification)
                .where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
                .values(read_at=utcnow())
            ),
        ).rowcount


# Portal traffic (client comments by mail to the assignee, agent replies by mail to the client)
# subscribes beside these; imported last, as it builds on this module.
import crm_app.services.portal.notify  # noqa: E402, F401
