"""What marketing staff do with a campaign: compose and autosave a draft, pick the audience,
preview it per recipient, test-send it to staff, send it now or later, pause, resume, cancel.

Every action checks `MANAGE_CAMPAIGNS`, writes and audits in one transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.campaigns.audience import candidates
from crm_app.services.campaigns.template import (
    CampaignTemplate,
    RecipientValues,
    check_placeholders,
    clean_html,
    text_from_html,
)
from crm_app.services.errors import Conflict, InvalidInput, NotFound
from crm_app.settings import get_settings
from models.base import utcnow
from models.campaign import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    CampaignTransport,
    RecipientStatus,
)
from models.mailbox import Mailbox, OutboundKind
from models.segment import Segment

MAX_BODY = 200_000
MAX_TEST_ADDRESSES = 5
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
EDITABLE = {CampaignStatus.DRAFT.value, CampaignStatus.SCHEDULED.value}


@dataclass(frozen=True)
class SenderOption:
    mailbox_id: int
    label: str
    transport: str


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    status: str
    transport: str
    sender_mailbox_id: int | None
    from_label: str
    subject: str
    preheader: str
    body_html: str
    body_text: str
    text_edited: bool
    segment_ids: list[int]
    exclude_segment_ids: list[int]
    rate_per_second: int
    scheduled_at: str
    recipients_total: int
    updated_at: str


def _fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _row(c: Campaign) -> CampaignRow:
    assert c.id is not None
    return CampaignRow(
        id=c.id,
        name=c.name,
        status=c.status,
        transport=c.transport,
        sender_mailbox_id=c.sender_mailbox_id,
        from_label=f"{c.from_name} <{c.from_email}>" if c.from_email else "",
        subject=c.subject,
        preheader=c.preheader,
        body_html=c.body_html,
        body_text=c.body_text,
        text_edited=c.text_edited,
        segment_ids=list(c.segment_ids or []),
        exclude_segment_ids=list(c.exclude_segment_ids or []),
        rate_per_second=c.rate_per_second,
        scheduled_at=_fmt(c.scheduled_at),
        recipients_total=c.recipients_total,
        updated_at=_fmt(c.updated_at),
    )


def _load(session, campaign_id: int, *, lock: bool = False) -> Campaign:
    query = select(Campaign).where(col(Campaign.id) == campaign_id)
    campaign = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if campaign is None:
        raise NotFound("There is no such campaign.")
    return campaign


def _transport_of(mailbox: Mailbox) -> str:
    if mailbox.outbound == OutboundKind.SENDGRID:
        return CampaignTransport.SENDGRID.value
    if mailbox.outbound == OutboundKind.SYSTEM and get_settings().sendgrid_api_key:
        return CampaignTransport.SENDGRID.value
    return CampaignTransport.SMTP.value


def sender_options(actor: Actor) -> list[SenderOption]:
    """The enabled mailboxes a campaign may go out from, and how each sends."""
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope() as session:
        boxes = session.scalars(
            select(Mailbox).where(col(Mailbox.enabled).is_(True)).order_by(col(Mailbox.name))
        )
        return [
            SenderOption(
                b.id or 0,
                f"{b.display_name or b.name} <{b.address}>",
                _transport_of(b),
            )
            for b in boxes
        ]


def segment_options(actor: Actor) -> list[tuple[int, str]]:
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope() as session:
        return [
            (i, n)
            for i, n in session.execute(
                select(col(Segment.id), col(Segment.name)).order_by(col(Segment.name))
            ).tuples()
        ]


def list_campaigns(actor: Actor, limit: int = 100) -> list[CampaignRow]:
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope() as session:
        rows = session.scalars(
            select(Campaign).order_by(col(Campaign.updated_at).desc()).limit(min(limit, 500))
        )
        return [_row(c) for c in rows]


def get_campaign(actor: Actor, campaign_id: int) -> CampaignRow:
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope() as session:
        return _row(_load(session, campaign_id))


def create_campaign(actor: Actor, name: str) -> int:
    require(actor, Action.MANAGE_CAMPAIGNS)
    name = " ".join(str(name or "").split())[:200] or "Untitled campaign"
    with session_scope() as session:
        campaign = Campaign(name=name, created_by_id=actor.user_id)
        default = session.execute(
            select(Mailbox)
            .where(col(Mailbox.enabled).is_(True))
            .order_by(col(Mailbox.is_default).desc())
        ).scalar()
        if default is not None:
            _set_sender(campaign, default)
        session.add(campaign)
        session.flush()
        audit.record(session, actor, "campaign.created", "campaign", campaign.id, {"name": name})
        assert campaign.id is not None
        return campaign.id


def _set_sender(campaign: Campaign, mailbox: Mailbox) -> None:
    campaign.sender_mailbox_id = mailbox.id
    campaign.from_name = mailbox.display_name or mailbox.name
    campaign.from_email = mailbox.address
    campaign.transport = _transport_of(mailbox)


def _ids(value: Any, label: str) -> list[int]:
    if not isinstance(value, list) or len(value) > 50:
        raise InvalidInput(f"{label}: a list of at most 50 segments.")
    try:
        return sorted({int(v) for v in value})
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"{label}: segment ids are numbers.") from error


def save_draft(actor: Actor, campaign_id: int, form: dict[str, Any]) -> CampaignRow:
    """Autosave: only the keys present in `form` change. The HTML is sanitized, the text part
    follows it until the author edits the text; placeholders outside the allowed fields are
    refused."""
    require(actor, Action.MANAGE_CAMPAIGNS)
    if not isinstance(form, dict):
        raise InvalidInput("Nothing to save.")
    with session_scope() as session:
        campaign = _load(session, campaign_id, lock=True)
        if campaign.status not in EDITABLE:
            raise Conflict("This campaign is already sending or sent: it can no longer change.")
        changes: dict[str, Any] = {}
        for key, limit in (("name", 200), ("subject", 300), ("preheader", 300)):
            if key in form:
                value = " ".join(str(form[key] or "").split())[:limit]
                if key == "name" and not value:
                    raise InvalidInput("Give the campaign a name.")
                changes[key] = value
        if "body_html" in form:
            body = str(form["body_html"] or "")
            if len(body) > MAX_BODY:
                raise InvalidInput("The message is too long.")
            changes["body_html"] = clean_html(body)
        if "body_text" in form:
            text = str(form["body_text"] or "")[:MAX_BODY]
            changes["body_text"] = text
            changes["text_edited"] = bool(text.strip())
        if "sender_mailbox_id" in form:
            try:
                box = session.get(Mailbox, int(form["sender_mailbox_id"]))
            except (TypeError, ValueError):
                box = None
            if box is None or not box.enabled:
                raise InvalidInput("Choose one of the enabled mailboxes as the sender.")
            _set_sender(campaign, box)
        for key, label in (("segment_ids", "Segments"), ("exclude_segment_ids", "Exclusions")):
            if key in form:
                ids = _ids(form[key], label)
                known = set(
                    session.scalars(select(col(Segment.id)).where(col(Segment.id).in_(ids)))
                )
                if set(ids) - known:
                    raise InvalidInput(f"{label}: choose saved segments.")
                changes[key] = ids
        if "rate_per_second" in form:
            try:
                rate = int(form["rate_per_second"] or 0)
            except (TypeError, ValueError) as error:
                raise InvalidInput("The rate is a whole number of messages per second.") from error
            changes["rate_per_second"] = max(0, min(rate, 100_000))
        check_placeholders(
            changes.get("subject", campaign.subject),
            changes.get("preheader", campaign.preheader),
            changes.get("body_html", campaign.body_html),
            changes.get("body_text", campaign.body_text),
        )
        for key, value in changes.items():
            setattr(campaign, key, value)
        if not campaign.text_edited:
            campaign.body_text = ""
        campaign.updated_at = utcnow()
        audit.record(
            session, actor, "campaign.saved", "campaign", campaign.id, {"keys": sorted(changes)}
        )
        return _row(campaign)


def generated_text(actor: Actor, campaign_id: int) -> str:
    """The plain-text part as it would be generated from the HTML (for the editor)."""
    row = get_campaign(actor, campaign_id)
    return row.body_text if row.text_edited else text_from_html(row.body_html)


def template_for(campaign: Campaign | CampaignRow) -> CampaignTemplate:
    from_email = (
        campaign.from_email if isinstance(campaign, Campaign) else parseaddr(campaign.from_label)[1]
    )
    return CampaignTemplate(
        campaign_id=campaign.id or 0,
        public_url=get_settings().public_url,
        from_email=from_email or parseaddr(get_settings().mail_from)[1],
        subject=campaign.subject,
        preheader=campaign.preheader,
        body_html=campaign.body_html,
        body_text=campaign.body_text if campaign.text_edited else "",
    )


@dataclass(frozen=True)
class Preview:
    client_name: str
    email: str
    subject: str
    html: str
    text: str


def preview(actor: Actor, campaign_id: int, client_index: int = 0) -> Preview | None:
    """The message as the n-th client of the audience would get it (None: empty audience)."""
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope() as session:
        campaign = _load(session, campaign_id)
        rows = candidates(session, campaign.segment_ids, campaign.exclude_segment_ids).subquery()
        total = session.scalars(
            select(func.count()).select_from(rows).where(rows.c.reason.is_(None))
        ).one()
        if not total:
            return None
        found = session.execute(
            select(rows.c.name, rows.c.email)
            .where(rows.c.reason.is_(None))
            .order_by(rows.c.client_id)
            .offset(max(0, int(client_index)) % total)
            .limit(1)
        ).one()
        template = template_for(campaign)
    first, _, last = (found.name or "").partition(" ")
    message = template.render(RecipientValues(0, found.email, first, last))
    return Preview(found.name, found.email, message.subject, message.html, message.text)


def send_test(actor: Actor, campaign_id: int, addresses: str) -> int:
    """Send the message, rendered for a sample recipient, to a few staff addresses. Returns how
    many went. Test mail carries no working tracking or unsubscribe link (recipient 0)."""
    from crm_app.services.campaigns.delivery import send_test_mail
    from models.user import User

    require(actor, Action.MANAGE_CAMPAIGNS)
    wanted = [a.strip().lower() for a in re.split(r"[,\s;]+", addresses or "") if a.strip()]
    if not wanted:
        raise InvalidInput("Give at least one staff address.")
    if len(wanted) > MAX_TEST_ADDRESSES or not all(_EMAIL.match(a) for a in wanted):
        raise InvalidInput(f"Give up to {MAX_TEST_ADDRESSES} valid addresses.")
    with session_scope() as session:
        staff = {
            (e or "").lower()
            for e in session.scalars(
                select(col(User.email)).where(func.lower(col(User.email)).in_(wanted))
            )
        }
        outsiders = [a for a in wanted if a not in staff]
        if outsiders:
            raise InvalidInput(f"Test sends go to staff only: {', '.join(outsiders)} is not.")
        campaign = _load(session, campaign_id)
        if not campaign.from_email:
            raise InvalidInput("Choose a sender first.")
        audit.record(session, actor, "campaign.test_sent", "campaign", campaign.id, {"to": wanted})
        name = actor.name or "Test"
    first, _, last = name.partition(" ")
    for address in wanted:
        send_test_mail(campaign, address, RecipientValues(0, address, first, last))
    return len(wanted)


def schedule(actor: Actor, campaign_id: int, when: datetime | None = None) -> CampaignRow:
    """Send now (`when` None) or at `when`: the campaign_send job takes the snapshot then."""
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope() as session:
        campaign = _load(session, campaign_id, lock=True)
        if campaign.status not in EDITABLE:
            raise Conflict("This campaign was already sent or is sending.")
        missing = [
            label
            for label, value in (
                ("a sender", campaign.from_email),
                ("a subject", campaign.subject),
                ("a message", campaign.body_html),
                ("a segment", campaign.segment_ids),
            )
            if not value
        ]
        if missing:
            raise InvalidInput("Before sending, give " + ", ".join(missing) + ".")
        if when is not None and when.tzinfo is None:
            raise InvalidInput("A send time needs a time zone.")
        campaign.status = CampaignStatus.SCHEDULED.value
        campaign.scheduled_at = when or utcnow()
        campaign.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "campaign.scheduled",
            "campaign",
            campaign.id,
            {"at": campaign.scheduled_at.isoformat()},
        )
        return _row(campaign)


def _transition(actor: Actor, campaign_id: int, allowed: set[str], to: str, verb: str) -> None:
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope() as session:
        campaign = _load(session, campaign_id, lock=True)
        if campaign.status not in allowed:
            raise Conflict(f"A {campaign.status} campaign cannot be {verb}.")
        before = campaign.status
        campaign.status = to
        campaign.updated_at = utcnow()
        if to == CampaignStatus.CANCELLED:
            campaign.finished_at = utcnow()
            # Nobody not yet handed to the provider gets it; claimed rows are given up by
            # their worker at its next status check.
            session.execute(
                update(CampaignRecipient)
                .where(
                    col(CampaignRecipient.campaign_id) == campaign_id,
                    col(CampaignRecipient.status) == RecipientStatus.QUEUED,
                )
                .values(status=RecipientStatus.CANCELLED.value, error="Campaign cancelled")
            )
        if to == CampaignStatus.DRAFT:
            campaign.scheduled_at = None
        audit.record(
            session, actor, f"campaign.{verb}", "campaign", campaign.id, {"status": [before, to]}
        )


def pause(actor: Actor, campaign_id: int) -> None:
    _transition(actor, campaign_id, {CampaignStatus.SENDING.value}, "paused", "paused")


def resume(actor: Actor, campaign_id: int) -> None:
    _transition(actor, campaign_id, {CampaignStatus.PAUSED.value}, "sending", "resumed")


def unschedule(actor: Actor, campaign_id: int) -> None:
    _transition(actor, campaign_id, {CampaignStatus.SCHEDULED.value}, "draft", "unscheduled")


def cancel(actor: Actor, campaign_id: int) -> None:
    _transition(
        actor,
        campaign_id,
        {CampaignStatus.SCHEDULED.value, CampaignStatus.SENDING.value, "paused"},
        "cancelled",
        "cancelled",
    )
