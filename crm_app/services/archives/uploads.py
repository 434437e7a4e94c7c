"""Limits of archive uploads (the resumable upload itself is `crm_app/services/archive_uploads.py`)
and the client an archive concerns."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput
from models.client import Client

ARCHIVE_UPLOAD_MAX_BYTES = 64 << 30  # one archive file; PSTs of tens of GB exist
ARCHIVE_UPLOAD_MAX_FILES = 20


def find_client_by_email(actor: Actor | None, email: str) -> int | None:
    """The client an archive concerns, named by email (empty: none)."""
    email = (email or "").strip().lower()
    if not email:
        return None
    require(actor, Action.VIEW_CLIENTS)
    with session_scope() as session:
        found = session.execute(
            select(col(Client.id)).where(func.lower(col(Client.email)) == email).limit(1)
        ).scalar()
        if found is None:
            raise InvalidInput(f"No client has the email {email}.")
        return int(found)
