"""Archives as pages list them: progress, time left and the errors of an import (reads)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.archives.policy import _visible_archives
from crm_app.services.archives.rows import ArchiveRow, ItemErrorRow
from crm_app.services.errors import NotFound
from models.archive import Archive, ArchiveItemError, ArchiveStatus
from models.base import utcnow
from models.client import Client


def _eta(archive: Archive) -> int | None:
    if archive.status != ArchiveStatus.RUNNING or not archive.started_at:
        return None
    if archive.bytes_done <= 0 or archive.bytes_total <= archive.bytes_done:
        return None
    spent = (utcnow() - archive.started_at).total_seconds()
    rate = archive.bytes_done / max(spent, 1e-3)
    return int((archive.bytes_total - archive.bytes_done) / rate) if rate > 0 else None


def _progress(archive: Archive) -> int:
    if archive.status == ArchiveStatus.DONE:
        return 100
    if archive.bytes_total <= 0:
        return 0
    return min(99, int(100 * archive.bytes_done / archive.bytes_total))


def _say_eta(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds < 90:
        return f"about {max(seconds, 1)} s left"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def _row(archive: Archive, client_name: str, owner_name: str) -> ArchiveRow:
    assert archive.id is not None
    return ArchiveRow(
        id=archive.id,
        label=archive.label,
        file_name=archive.file_name,
        source=archive.source,
        confidentiality=archive.confidentiality,
        client_id=archive.client_id,
        client_name=client_name or "",
        owner_name=owner_name or "",
        status=archive.status,
        cancel_requested=archive.cancel_requested,
        messages=archive.messages,
        duplicates=archive.duplicates,
        attachments=archive.attachments,
        skipped=archive.skipped,
        errors=archive.errors,
        bytes_total=archive.bytes_total,
        bytes_done=archive.bytes_done,
        progress_percent=_progress(archive),
        eta_seconds=_eta(archive),
        eta_text=_say_eta(_eta(archive)),
        error=archive.error or "",
        created_at=archive.created_at.isoformat(timespec="seconds"),
        finished_at=archive.finished_at.isoformat(timespec="seconds")
        if archive.finished_at
        else "",
    )


def list_archives(actor: Actor | None, *, offset: int = 0, limit: int = 50) -> list[ArchiveRow]:
    """Archives newest first, one page; agents never see managers-only ones."""
    from models.user import User

    actor = require(actor, Action.VIEW_TICKETS)
    limit = min(max(int(limit), 1), 200)
    with session_scope() as session:
        rows = (
            session.execute(
                select(Archive, col(Client.name), col(User.name))
                .outerjoin(Client, col(Client.id) == col(Archive.client_id))
                .outerjoin(User, col(User.id) == col(Archive.owner_id))
                .where(_visible_archives(actor))
                .order_by(col(Archive.id).desc())
                .offset(max(int(offset), 0))
                .limit(limit)
            )
            .tuples()
            .all()
        )
        return [_row(archive, client, owner) for archive, client, owner in rows]


def get_archive(actor: Actor | None, archive_id: int) -> ArchiveRow:
    for row in list_archives_by_id(actor, [archive_id]):
        return row
    raise NotFound("No such archive.")


def list_archives_by_id(actor: Actor | None, ids: list[int]) -> list[ArchiveRow]:
    from models.user import User

    actor = require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        rows = (
            session.execute(
                select(Archive, col(Client.name), col(User.name))
                .outerjoin(Client, col(Client.id) == col(Archive.client_id))
                .outerjoin(User, col(User.id) == col(Archive.owner_id))
                .where(col(Archive.id).in_(ids), _visible_archives(actor))
                .order_by(col(Archive.id))
            )
            .tuples()
            .all()
        )
        return [_row(archive, client, owner) for archive, client, owner in rows]


def item_errors(actor: Actor | None, archive_id: int, *, limit: int = 100) -> list[ItemErrorRow]:
    actor = require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        archive = session.get(Archive, archive_id)
        if (
            archive is None
            or not session.execute(
                select(sa.literal(True)).where(
                    col(Archive.id) == archive_id, _visible_archives(actor)
                )
            ).scalar()
        ):
            raise NotFound("No such archive.")
        rows: Iterable[ArchiveItemError] = session.execute(
            select(ArchiveItemError)
            .where(col(ArchiveItemError.archive_id) == archive_id)
            .order_by(col(ArchiveItemError.id))
            .limit(min(max(int(limit), 1), 500))
        ).scalars()
        return [
            ItemErrorRow(
                position=row.position, folder=row.folder or "", message=row.message, fatal=row.fatal
            )
            for row in rows
        ]
