"""What recipients do with a campaign message: unsubscribe (link, one-click POST, mailto),
open (pixel), click (signed redirect), and what SendGrid's Event Webhook reports. Every event
is recorded idempotently: the same SendGrid event twice counts once, and a recipient's
first open/click sets its time.

No actor here: the signed recipient token is the only authority (these are answered to anyone
holding a mail), and it can only unsubscribe its own address or count its own open."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from crm_app.db import session_scope
from crm_app.services.campaigns.template import link_target, token_recipient
from crm_app.services.errors import InvalidInput, NotFound, PermissionDenied

log = logging.getLogger(__name__)

MAX_EVENTS = 5000


@dataclass(frozen=True)
class UnsubscribeTarget:
    recipient_id: int
    email: str
    campaign_name: str
    already: bool


def _recipient(session, token: str) -> Any:
    rid = token_recipient(token)
    if rid is None:
        raise NotFound("This link is not valid.")
    row = session.execute(
        text(
            "SELECT r.id, r.email, r.campaign_id, c.name, r.unsubscribed_at, "
            "EXISTS (SELECT 1 FROM suppression s WHERE s.email = r.email "
            "AND s.reason = 'unsubscribed') AS suppressed "
            "FROM campaign_recipient r JOIN campaign c ON c.id = r.campaign_id WHERE r.id = :id"
        ),
        {"id": rid},
    ).one_or_none()
    if row is None:
        raise NotFound("This link is not valid.")
    return row


def unsubscribe_target(token: str) -> UnsubscribeTarget:
    """What the unsubscribe page shows before the click. No writes."""
    with session_scope() as session:
        row = _recipient(session, token)
        return UnsubscribeTarget(row.id, row.email, row.name, bool(row.suppressed))


def _suppress(session, email: str, reason: str, campaign_id: int | None, source: str) -> None:
    # The strongest reason stays: a complaint is not turned back into an unsubscribe.
    session.execute(
        text(
            "INSERT INTO suppression (email, reason, campaign_id, source, created_at) "
            "VALUES (:email, :reason, :cid, :source, now()) ON CONFLICT (email) DO NOTHING"
        ),
        {"email": email.strip().lower(), "reason": reason, "cid": campaign_id, "source": source},
    )


def _event(
    session,
    campaign_id: int,
    recipient_id: int | None,
    kind: str,
    key: str | None = None,
    url: str | None = None,
    at: float | None = None,
) -> bool:
    """Record one event; False when its key was seen before (nothing else must change)."""
    inserted = session.execute(
        text(
            "INSERT INTO campaign_event (campaign_id, recipient_id, kind, event_key, url, "
            "occurred_at) VALUES (:cid, :rid, :kind, :key, :url, "
            "coalesce(to_timestamp(:at), now())) ON CONFLICT (event_key) DO NOTHING RETURNING id"
        ),
        {"cid": campaign_id, "rid": recipient_id, "kind": kind, "key": key, "url": url, "at": at},
    ).first()
    return inserted is not None


def _first(session, recipient_id: int, column: str, at: float | None = None) -> None:
    assert column in _TRACKED_COLUMNS
    session.execute(
        text(
            f"UPDATE campaign_recipient SET {column} = coalesce({column}, "
            "coalesce(to_timestamp(:at), now())) WHERE id = :id"
        ),
        {"id": recipient_id, "at": at},
    )


_TRACKED_COLUMNS = {
    "delivered_at",
    "opened_at",
    "clicked_at",
    "bounced_at",
    "unsubscribed_at",
    "complained_at",
}


def unsubscribe(token: str, source: str = "link") -> UnsubscribeTarget:
    """Unsubscribe the token's address from all campaigns, at once (later claims skip it).
    Repeating it changes nothing."""
    with session_scope() as session:
        return unsubscribe_in(session, token, source)


def unsubscribe_in(session, token: str, source: str) -> UnsubscribeTarget:
    """`unsubscribe` inside the caller's transaction (the mail intake's, for a mailto request)."""
    row = _recipient(session, token)
    _suppress(session, row.email, "unsubscribed", row.campaign_id, source)
    if row.unsubscribed_at is None:
        _first(session, row.id, "unsubscribed_at")
        _event(session, row.campaign_id, row.id, "unsubscribe", f"unsub:{row.id}")
    return UnsubscribeTarget(row.id, row.email, row.name, True)


def record_open(token: str) -> None:
    """The pixel: any number of loads, one unique open. Unknown tokens are ignored."""
    rid = token_recipient(token)
    if rid is None:
        return
    with session_scope() as session:
        row = session.execute(
            text("SELECT campaign_id, opened_at FROM campaign_recipient WHERE id = :id"),
            {"id": rid},
        ).one_or_none()
        if row is None:
            return
        _event(session, row.campaign_id, rid, "open")
        _first(session, rid, "opened_at")


def click_target(token: str, url: str, signature: str) -> str:
    """The address a tracked link goes to, when this app signed it for the token's campaign;
    anything else is refused (never an open redirect)."""
    rid = token_recipient(token)
    if rid is None:
        raise PermissionDenied("This link is not valid.")
    with session_scope() as session:
        row = session.execute(
            text("SELECT campaign_id FROM campaign_recipient WHERE id = :id"), {"id": rid}
        ).one_or_none()
        if row is None:
            raise PermissionDenied("This link is not valid.")
        target = link_target(row.campaign_id, url, signature)
        if target is None:
            raise PermissionDenied("This link is not valid.")
        _event(session, row.campaign_id, rid, "click", url=target[:2000])
        _first(session, rid, "clicked_at")
        return target


# --- SendGrid Event Webhook ----------------------------------------------------------------------


def webhook_public_key() -> str:
    # Read per request: the key is rotated in SendGrid and in the environment together.
    return os.environ.get("SENDGRID_WEBHOOK_PUBLIC_KEY", "").strip()


def webhook_tolerance_seconds() -> int:
    raw = os.environ.get("SENDGRID_WEBHOOK_TOLERANCE_SECONDS", "600").strip() or "600"
    try:
        return max(0, int(raw))
    except ValueError:
        return 600


def verify_sendgrid_signature(raw_body: bytes, signature: str, timestamp: str) -> None:
    """SendGrid's signed Event Webhook, checked with the official helper (ECDSA P-256 over
    timestamp + raw body). Raises PermissionDenied for anything forged, tampered or stale."""
    from sendgrid.helpers.eventwebhook import EventWebhook

    key = webhook_public_key()
    if not key:
        raise PermissionDenied("The SendGrid Event Webhook is not configured.")
    if not signature or not timestamp:
        raise PermissionDenied("The request is not signed.")
    try:
        payload = raw_body.decode("utf-8")
        verifier = EventWebhook(key)
        genuine = verifier.verify_signature(payload, signature, timestamp)
    except (UnicodeDecodeError, ValueError, TypeError, binascii.Error):
        genuine = False
    if not genuine:
        raise PermissionDenied("The signature does not match.")
    tolerance = webhook_tolerance_seconds()
    if tolerance:
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError as error:
            raise PermissionDenied("The timestamp is not valid.") from error
        if age > tolerance:
            raise PermissionDenied("The request is too old (a replay?).")


_COLUMN_OF = {
    "delivered": "delivered_at",
    "open": "opened_at",
    "click": "clicked_at",
    "bounce": "bounced_at",
    "dropped": "bounced_at",
    "spamreport": "complained_at",
    "unsubscribe": "unsubscribed_at",
    "group_unsubscribe": "unsubscribed_at",
}
_SUPPRESS_AS = {
    "spamreport": "complaint",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}


def _hard_bounce(event: dict[str, Any]) -> bool:
    if event.get("event") == "dropped":
        reason = str(event.get("reason", "")).lower()
        return "bounce" in reason or "invalid" in reason or "unsubscribe" in reason
    kind = str(event.get("type") or event.get("bounce_classification") or "").lower()
    return kind not in ("blocked", "deferred", "technical")


def process_sendgrid_events(raw_body: bytes) -> dict[str, int]:
    """Apply a verified batch of events; returns how many were applied and how many were seen
    before (counted once) or were not ours. A suppressed address stays suppressed."""
    try:
        events = json.loads(raw_body)
    except ValueError as error:
        raise InvalidInput("The body is not JSON.") from error
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        raise InvalidInput("Expected a JSON list of events.")
    applied = duplicate = foreign = 0
    with session_scope() as session:
        for event in events:
            if not isinstance(event, dict):
                foreign += 1
                continue
            kind = str(event.get("event", ""))[:32]
            try:
                rid = int(event.get("recipient_id") or 0)
            except (TypeError, ValueError):
                rid = 0
            row = (
                session.execute(
                    text(
                        "SELECT id, campaign_id, email, status FROM campaign_recipient "
                        "WHERE id = :id"
                    ),
                    {"id": rid},
                ).one_or_none()
                if rid
                else None
            )
            email = str(event.get("email") or "").strip().lower()
            if row is not None and email and email != row.email:
                row = None  # custom args that do not match the address: not ours
            key = str(event.get("sg_event_id") or "")[:200] or None
            at = event.get("timestamp")
            at = float(at) if isinstance(at, int | float) else None
            if row is None:
                foreign += 1
                # An address that unsubscribed, complained or hard-bounced on mail we cannot
                # match (another sender of the account, an older campaign) still leaves every
                # later campaign.
                if email and kind in _SUPPRESS_AS:
                    _suppress(session, email, _SUPPRESS_AS[kind], None, "sendgrid")
                elif email and kind in ("bounce", "dropped") and _hard_bounce(event):
                    _suppress(session, email, "hard_bounce", None, "sendgrid")
                continue
            url = str(event.get("url") or "")[:2000] or None
            if not _event(session, row.campaign_id, row.id, kind, key or None, url, at):
                duplicate += 1
                continue
            applied += 1
            if kind in ("processed", "delivered") and row.status == "sending":
                # Evidence for a row a crash left `sending`: SendGrid had it.
                session.execute(
                    text(
                        "UPDATE campaign_recipient SET status = 'sent', "
                        "sent_at = coalesce(sent_at, now()) WHERE id = :id"
                    ),
                    {"id": row.id},
                )
            column = _COLUMN_OF.get(kind)
            if column is None:
                continue
            if kind in ("bounce", "dropped") and not _hard_bounce(event):
                continue
            _first(session, row.id, column, at)
            if kind in _SUPPRESS_AS:
                _suppress(session, row.email, _SUPPRESS_AS[kind], row.campaign_id, "sendgrid")
            elif kind in ("bounce", "dropped"):
                _suppress(session, row.email, "hard_bounce", row.campaign_id, "sendgrid")
    return {"applied": applied, "duplicate": duplicate, "ignored": foreign}


def pixel_gif() -> bytes:
    return base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
