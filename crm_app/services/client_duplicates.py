"""Likely duplicate clients (same email, same phone, similar name) and the merge that keeps one
record and moves the other's tickets, notes and history onto it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, text, update
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.clients import has_trigram_search
from crm_app.services.errors import InvalidInput, NotFound
from models.audit import AuditLog
from models.base import utcnow
from models.client import Client, ClientNote
from models.ticket import Ticket

NAME_SIMILARITY = 0.6
MAX_PAIRS = 200


def _live(alias: str) -> str:
    return f"{alias}.deleted_at IS NULL AND {alias}.erased_at IS NULL"


_LIVE = f"{_live('a')} AND {_live('b')}"
_BY_EMAIL = f"""
    SELECT a.id AS a, b.id AS b, 'same email' AS reason, 1.0 AS score
    FROM client a JOIN client b ON lower(a.email) = lower(b.email) AND a.id < b.id
    WHERE a.email IS NOT NULL AND {_LIVE}"""
_BY_PHONE = f"""
    SELECT a.id, b.id, 'same phone', 0.9
    FROM client a JOIN client b ON a.phone = b.phone AND a.id < b.id
    WHERE a.phone IS NOT NULL AND a.phone <> '' AND {_LIVE}"""
# pg_trgm: similar names (typos, order); without it, names equal once case and spaces go.
_BY_NAME_TRGM = f"""
    SELECT a.id, b.id, 'similar name', similarity(a.name, b.name)
    FROM client a JOIN client b ON a.name % b.name AND a.id < b.id
    WHERE similarity(a.name, b.name) >= :similarity AND {_LIVE}"""
_BY_NAME_PLAIN = f"""
    SELECT a.id, b.id, 'same name', 0.8
    FROM client a JOIN client b
      ON lower(regexp_replace(a.name, '\\s+', ' ', 'g'))
       = lower(regexp_replace(b.name, '\\s+', ' ', 'g')) AND a.id < b.id
    WHERE {_LIVE}"""


@dataclass(frozen=True)
class DuplicatePair:
    keep_id: int  # the older record, suggested as the one to keep
    keep_name: str
    keep_email: str
    other_id: int
    other_name: str
    other_email: str
    reasons: list[str]
    score: float


def find_duplicates(actor: Actor, limit: int = 50) -> list[DuplicatePair]:
    """Likely duplicate pairs, strongest first (several reasons beat one)."""
    require(actor, Action.EDIT_CLIENTS)
    limit = min(max(int(limit), 1), MAX_PAIRS)
    by_name = _BY_NAME_TRGM if has_trigram_search() else _BY_NAME_PLAIN
    sql = f"""
        WITH pairs (a, b, reason, score) AS ({_BY_EMAIL} UNION ALL {_BY_PHONE}
                                           UNION ALL {by_name})
        SELECT p.a, ca.name, ca.email, p.b, cb.name, cb.email,
               array_agg(DISTINCT p.reason ORDER BY p.reason), max(p.score) + count(*) - 1
        FROM pairs p JOIN client ca ON ca.id = p.a JOIN client cb ON cb.id = p.b
        GROUP BY p.a, ca.name, ca.email, p.b, cb.name, cb.email
        ORDER BY 8 DESC, p.a, p.b LIMIT :limit"""
    with session_scope() as session:
        if by_name is _BY_NAME_TRGM:
            session.execute(text(f"SET LOCAL pg_trgm.similarity_threshold = {NAME_SIMILARITY}"))
        rows = (
            session.execute(text(sql), {"limit": limit, "similarity": NAME_SIMILARITY})
            .tuples()
            .all()
        )
    return [
        DuplicatePair(a, an, ae or "", b, bn, be or "", list(reasons), float(score))
        for a, an, ae, b, bn, be, reasons, score in rows
    ]


def merge_clients(actor: Actor, keep_id: int, merge_id: int) -> None:
    """Fold `merge_id` into `keep_id`: empty fields filled, contacts and tags combined, tickets,
    notes and history moved; the merged record is soft-deleted and points at the kept one."""
    require(actor, Action.EDIT_CLIENTS)
    if keep_id == merge_id:
        raise InvalidInput("Pick two different clients to merge.")
    with session_scope() as session:
        found = {
            c.id: c
            for c in session.scalars(
                select(Client)
                .where(col(Client.id).in_([keep_id, merge_id]))
                .order_by(col(Client.id))
                .with_for_update()
            )
        }
        keep, other = found.get(keep_id), found.get(merge_id)
        if keep is None or other is None:
            raise NotFound("One of these clients does not exist.")
        for client in (keep, other):
            if client.deleted_at is not None or client.erased_at is not None:
                raise InvalidInput(f"{client.name} was deleted, merged or erased already.")
        filled: dict[str, list] = {}
        for key in (
            "email",
            "phone",
            "country",
            "region",
            "net_worth",
            "aum",
            "kyc_review_due",
            "marketing_consent_source",
            "portal_user_id",
            "owner_agent_id",
        ):
            if getattr(keep, key) in (None, "") and getattr(other, key) not in (None, ""):
                filled[key] = [None, str(getattr(other, key))]
                setattr(keep, key, getattr(other, key))
        emails = [
            e
            for e in [*(keep.other_emails or []), other.email, *(other.other_emails or [])]
            if e and e != keep.email
        ]
        phones = [
            p
            for p in [*(keep.other_phones or []), other.phone, *(other.other_phones or [])]
            if p and p != keep.phone
        ]
        keep.other_emails = list(dict.fromkeys(emails))[:10]
        keep.other_phones = list(dict.fromkeys(phones))[:10]
        keep.tags = list(dict.fromkeys([*(keep.tags or []), *(other.tags or [])]))[:50]
        keep.custom_fields = {**(other.custom_fields or {}), **(keep.custom_fields or {})}
        if other.legal_hold and not keep.legal_hold:  # a hold is never lost by a merge
            keep.legal_hold, keep.legal_hold_reason = True, other.legal_hold_reason
        keep.updated_at = other.deleted_at = utcnow()
        other.merged_into_id = keep.id
        moved_tickets = cast(
            "CursorResult[Any]",
            session.execute(
                update(Ticket).where(col(Ticket.client_id) == other.id).values(client_id=keep.id)
            ),
        ).rowcount
        session.execute(
            update(ClientNote)
            .where(col(ClientNote.client_id) == other.id)
            .values(client_id=keep.id)
        )
        session.execute(
            update(AuditLog)
            .where(col(AuditLog.entity_type) == "client", col(AuditLog.entity_id) == other.id)
            .values(entity_id=keep.id)
        )
        audit.record(
            session,
            actor,
            "client.merged",
            "client",
            keep.id,
            {
                "merged_client": [None, f"#{other.id} {other.name}"],
                "tickets_moved": [None, moved_tickets],
                **filled,
            },
        )
