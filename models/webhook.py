"""Webhooks out: endpoints a manager registered, and the outbox of deliveries to them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class WebhookEndpoint(SQLModel, table=True):
    """A URL that hears of ticket and message events, signed with its own secret."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_type=sa.String(2000))
    # Encrypted at rest (crm_app.crypto); the receiver holds the plain secret.
    secret: str = Field(sa_type=sa.Text())
    events: list[str] = Field(default_factory=list, sa_type=JSONB)
    is_active: bool = Field(default=True)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last retry


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: written before any attempt, so a crash loses nothing; the
    delivery job claims due rows (SKIP LOCKED), posts, and records the outcome."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id", index=True, ondelete="CASCADE")
    event: str = Field(sa_type=sa.String(40))
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    status: str = enum_field(DeliveryStatus, DeliveryStatus.PENDING)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = timestamp_field()
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_type=sa.Text())
    created_at: datetime = timestamp_field()
    delivered_at: datetime | None = timestamp_field(nullable=True, default_now=False)
