"""mail in: every fetched message recorded once, tickets remember their mailbox, unverified clients

Revision ID: eef704024641
Revises: d9e626fc1a66
Create Date: 2026-12-01 11:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "eef704024641"
down_revision: str | None = "d9e626fc1a66"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_mail",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mailbox_id", sa.Integer(),
                  sa.ForeignKey("mailbox.id", ondelete="CASCADE"), nullable=False),
        sa.Column("folder", sa.String(255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("message_key", sa.String(998), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("raw_path", sa.String(1024), nullable=True),
        sa.Column("ticket_id", sa.Integer(),
                  sa.ForeignKey("ticket.id", ondelete="SET NULL"), nullable=True),
        sa.Column("ticket_message_id", sa.Integer(),
                  sa.ForeignKey("ticket_message.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("mailbox_id", "folder", "uidvalidity", "uid",
                            name="uq_inbound_mail_position"),
    )
    op.create_index("ix_inbound_mail_mailbox_id", "inbound_mail", ["mailbox_id"])
    op.create_index("uq_inbound_mail_message_key", "inbound_mail", ["message_key"], unique=True,
                    postgresql_where=sa.text("status <> 'duplicate'"))
    op.create_index("ix_inbound_mail_status_created", "inbound_mail", ["status", "created_at"])
    op.create_index("ix_inbound_mail_sender_created", "inbound_mail", ["sender", "created_at"])

    op.add_column("ticket", sa.Column("mailbox_id", sa.Integer(),
                                      sa.ForeignKey("mailbox.id", ondelete="SET NULL"),
                                      nullable=True))
    op.add_column("ticket_message", sa.Column("references", sa.Text(), nullable=True))
    op.add_column("ticket_message", sa.Column("quoted_text", sa.Text(), nullable=True))
    op.add_column("attachment", sa.Column("content_id", sa.String(255), nullable=True))
    op.add_column("attachment", sa.Column("is_inline", sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
    op.add_column("client", sa.Column("verified", sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
    # The mail intake finds a sender's client by address, case-insensitively.
    op.create_index("ix_client_email_lower", "client", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_client_email_lower", table_name="client")
    op.drop_column("client", "verified")
    op.drop_column("attachment", "is_inline")
    op.drop_column("attachment", "content_id")
    op.drop_column("ticket_message", "quoted_text")
    op.drop_column("ticket_message", "references")
    op.drop_column("ticket", "mailbox_id")
    op.drop_index("ix_inbound_mail_sender_created", table_name="inbound_mail")
    op.drop_index("ix_inbound_mail_status_created", table_name="inbound_mail")
    op.drop_index("uq_inbound_mail_message_key", table_name="inbound_mail")
    op.drop_index("ix_inbound_mail_mailbox_id", table_name="inbound_mail")
    op.drop_table("inbound_mail")
