"""Bulk email campaigns: the campaign, its recipients (a snapshot taken once at send time), the
tracking events, and the suppression list every send consults."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"


class CampaignTransport(StrEnum):
    SMTP = "smtp"  # the sender mailbox's SMTP settings (or the product's own)
    SENDGRID = "sendgrid"  # SendGrid v3 mail send, batched personalizations


class RecipientStatus(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"  # in a worker's batch, nothing handed to the provider yet
    # A SendGrid batch whose request may have left: never sent again (see jobs/campaign_send).
    # SMTP rows stay `claimed` while in flight; the worker's `CampaignWorker.reached` says
    # which of them the final dot may have reached.
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SuppressionReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"


class Campaign(SQLModel, table=True):
    __tablename__ = "campaign"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(200))
    status: str = enum_field(CampaignStatus, CampaignStatus.DRAFT, index=True)
    transport: str = enum_field(CampaignTransport, CampaignTransport.SMTP)
    sender_mailbox_id: int | None = Field(
        default=None, foreign_key="mailbox.id", ondelete="SET NULL"
    )
    from_name: str = Field(default="", sa_type=sa.String(120))
    from_email: str = Field(default="", sa_type=sa.String(320))
    subject: str = Field(default="", sa_type=sa.String(300))
    preheader: str = Field(default="", sa_type=sa.String(300))
    body_html: str = Field(default="", sa_type=sa.Text)  # sanitized on every save
    body_text: str = Field(default="", sa_type=sa.Text)
    text_edited: bool = Field(default=False)  # False: the text part follows the HTML
    segment_ids: list[int] = Field(
        default_factory=list, sa_type=ARRAY(sa.Integer), sa_column_kwargs={"server_default": "{}"}
    )
    exclude_segment_ids: list[int] = Field(
        default_factory=list, sa_type=ARRAY(sa.Integer), sa_column_kwargs={"server_default": "{}"}
    )
    # Messages per second per jobs process; 0: as fast as the transport goes.
    rate_per_second: int = Field(default=0)
    scheduled_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    materialized_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    started_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    finished_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    recipients_total: int = Field(default=0)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class CampaignRecipient(SQLModel, table=True):
    """One client's copy of a campaign, frozen when the send starts (name and address as they
    were then). Tracking columns hold the first time each thing happened."""

    __tablename__ = "campaign_recipient"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "email", name="uq_campaign_recipient_email"),
        # The claim query: the next queued rows of a campaign in id order.
        sa.Index("ix_campaign_recipient_claim", "campaign_id", "status", "id"),
        sa.Index("ix_campaign_recipient_client", "client_id"),
        # Rows in a worker's hands: what the reconciler scans on every run.
        sa.Index(
            "ix_campaign_recipient_in_flight",
            "worker",
            postgresql_where=sa.text("status IN ('claimed', 'sending')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    client_id: int | None = Field(default=None, foreign_key="client.id", ondelete="SET NULL")
    email: str = Field(sa_type=sa.String(320))  # lower-cased
    first_name: str = Field(default="", sa_type=sa.String(200))
    last_name: str = Field(default="", sa_type=sa.String(200))
    status: str = enum_field(RecipientStatus, RecipientStatus.QUEUED)
    worker: int | None = Field(default=None, sa_type=sa.BigInteger)  # advisory-lock key
    batch_key: str | None = Field(default=None, sa_type=sa.String(40))
    message_id: str | None = Field(default=None, sa_type=sa.String(200))
    provider_message_id: str | None = Field(default=None, sa_type=sa.String(200))
    # True when a crash left the row "sending": counted sent, never resent, not confirmed.
    unconfirmed: bool = Field(default=False)
    error: str | None = Field(default=None, sa_type=sa.Text)
    sent_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    delivered_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    opened_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    clicked_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    bounced_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    unsubscribed_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    complained_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class CampaignWorker(SQLModel, table=True):
    """A jobs process sending a campaign over SMTP, while it lives: `reached` is the last of its
    claimed recipients (it sends them in id order) whose final dot may have left. Written right
    before each dot, so it is what a restart reads to tell sent rows from unsent ones (see
    `crm_app.services.campaigns.delivery`). One narrow row per worker: the per-message write
    is an in-place (HOT) update instead of a new version of an indexed recipient row."""

    __tablename__ = "campaign_worker"

    worker: int = Field(
        primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs={"autoincrement": False}
    )  # the worker's advisory-lock key, as in `CampaignRecipient.worker`
    reached: int = Field(default=0, sa_type=sa.BigInteger, sa_column_kwargs={"server_default": "0"})


class CampaignEvent(SQLModel, table=True):
    """What happened to a sent message, from our own pixel/links or SendGrid's Event Webhook.
    `event_key` makes a replayed event count once (SendGrid's sg_event_id)."""

    __tablename__ = "campaign_event"
    __table_args__ = (sa.Index("ix_campaign_event_campaign_time", "campaign_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    recipient_id: int | None = Field(
        default=None, sa_type=sa.BigInteger, foreign_key="campaign_recipient.id", ondelete="CASCADE"
    )
    kind: str = Field(sa_type=sa.String(32))
    event_key: str | None = Field(default=None, sa_type=sa.String(200), unique=True)
    url: str | None = Field(default=None, sa_type=sa.Text)
    occurred_at: datetime = timestamp_field()


class Suppression(SQLModel, table=True):
    """Addresses no campaign may reach: unsubscribed, hard bounced or complained. Wins over
    consent and over every segment."""

    __tablename__ = "suppression"

    email: str = Field(primary_key=True, sa_type=sa.String(320))  # lower-cased
    reason: str = enum_field(SuppressionReason, SuppressionReason.UNSUBSCRIBED)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    source: str = Field(default="", sa_type=sa.String(60))
    created_at: datetime = timestamp_field()
