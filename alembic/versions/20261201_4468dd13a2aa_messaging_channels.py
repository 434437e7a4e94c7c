"""Messaging channels: WhatsApp (Twilio, Meta) and web chat settings, received webhooks, deliveries

Revision ID: 4468dd13a2aa
Revises: 5e7a91c3d2b8
Create Date: 2026-12-01 13:50:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from alembic import op

revision: str = "4468dd13a2aa"
down_revision: str | None = "5e7a91c3d2b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_config",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column("settings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("secrets", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider"),
    )
    op.create_table(
        "channel_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("external_key", sa.String(length=300), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["ticket_message.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_key"),
    )
    op.create_index("ix_channel_event_address", "channel_event", ["address"])
    op.create_index("ix_channel_event_ticket_id", "channel_event", ["ticket_id"])
    op.create_index(
        "ix_channel_event_provider_created", "channel_event", ["provider", "created_at"]
    )
    op.create_table(
        "channel_delivery",
        sa.Column("provider_message_id", sa.String(length=300), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["ticket_message.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("provider_message_id"),
    )
    op.create_index("ix_channel_delivery_message_id", "channel_delivery", ["message_id"])
    op.create_table(
        "chat_site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_hint", sa.String(length=16), nullable=False),
        sa.Column("allowed_origins", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("brand_name", sa.String(length=120), nullable=False),
        sa.Column("colour", sa.String(length=16), nullable=False),
        sa.Column("greeting", sa.String(length=500), nullable=False),
        sa.Column("office_hours", sa.String(length=500), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_table(
        "chat_visitor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("typing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["site_id"], ["chat_site.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_chat_visitor_site_id", "chat_visitor", ["site_id"])
    op.create_index("ix_chat_visitor_ticket_id", "chat_visitor", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_chat_visitor_ticket_id", table_name="chat_visitor")
    op.drop_index("ix_chat_visitor_site_id", table_name="chat_visitor")
    op.drop_table("chat_visitor")
    op.drop_table("chat_site")
    op.drop_index("ix_channel_delivery_message_id", table_name="channel_delivery")
    op.drop_table("channel_delivery")
    op.drop_index("ix_channel_event_provider_created", table_name="channel_event")
    op.drop_index("ix_channel_event_ticket_id", table_name="channel_event")
    op.drop_index("ix_channel_event_address", table_name="channel_event")
    op.drop_table("channel_event")
    op.drop_table("channel_config")
