"""Adding, editing, enabling and removing a mailbox; each change is audited."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.mailboxes.form import _apply_secrets, _check_ready, _clean
from crm_app.services.mailboxes.rows import MailboxRow, _row
from models.base import utcnow
from models.inbound_mail import InboundMail, InboundStatus
from models.mailbox import Mailbox


def save_mailbox(actor: Actor, mailbox_id: int | None, form: dict[str, Any]) -> MailboxRow:
    """Add (mailbox_id None) or edit a mailbox from form fields.

    Side effects: writes the mailbox (secrets encrypted); at most one default mailbox; audited
    as `mailbox.created` / `mailbox.updated` with the changed fields (secrets as "changed").
    """
    require(actor, Action.MANAGE_MAILBOXES)
    if not isinstance(form, dict):
        raise InvalidInput("That request was not understood.")
    with session_scope() as session:
        box = None
        if mailbox_id is not None:
            box = session.get(Mailbox, mailbox_id, with_for_update=True)
            if box is None:
                raise NotFound("There is no such mailbox.")
        values = _clean(form, box)
        taken = session.execute(
            select(col(Mailbox.id)).where(func.lower(col(Mailbox.address)) == values["address"])
        ).scalar_one_or_none()
        if taken is not None and taken != mailbox_id:
            raise InvalidInput(f"{values['address']} is already a mailbox.")
        changes: dict[str, Any] = {}
        now = utcnow()
        if box is None:
            box = Mailbox(**values, created_at=now, updated_at=now)
            session.add(box)
            changes = dict(values.items())
        else:
            for key, value in values.items():
                if getattr(box, key) != value:
                    changes[key] = [getattr(box, key), value]
                    setattr(box, key, value)
            box.updated_at = now
        _apply_secrets(box, form, changes)
        _check_ready(box)
        if box.is_default:
            session.execute(
                sa.update(Mailbox)
                .where(col(Mailbox.id) != box.id if box.id else sa.true())
                .values(is_default=False)
            )
            box.is_default = True
        session.flush()
        audit.record(
            session,
            actor,
            "mailbox.created" if mailbox_id is None else "mailbox.updated",
            "mailbox",
            box.id,
            changes,
        )
        failed = session.scalars(
            select(func.count()).where(
                col(InboundMail.mailbox_id) == box.id,
                col(InboundMail.status) == InboundStatus.FAILED,
            )
        ).one()
        return _row(box, failed)


def set_enabled(actor: Actor, mailbox_id: int, enabled: bool) -> None:
    """Start or stop polling a mailbox. Side effects: audited."""
    require(actor, Action.MANAGE_MAILBOXES)
    with session_scope() as session:
        box = session.get(Mailbox, mailbox_id, with_for_update=True)
        if box is None:
            raise NotFound("There is no such mailbox.")
        if box.enabled != bool(enabled):
            box.enabled, box.updated_at = bool(enabled), utcnow()
            if box.enabled:
                _check_ready(box)
            audit.record(
                session,
                actor,
                "mailbox.enabled" if enabled else "mailbox.disabled",
                "mailbox",
                box.id,
                {"enabled": bool(enabled)},
            )


def remove_mailbox(actor: Actor, mailbox_id: int) -> str:
    """Delete a mailbox (its poll positions and import records go with it; tickets stay and
    forget the mailbox). Returns its address. Side effects: audited."""
    require(actor, Action.MANAGE_MAILBOXES)
    with session_scope() as session:
        box = session.get(Mailbox, mailbox_id, with_for_update=True)
        if box is None:
            raise NotFound("There is no such mailbox.")
        address = box.address
        audit.record(session, actor, "mailbox.removed", "mailbox", box.id, {"address": address})
        session.delete(box)
        return address
