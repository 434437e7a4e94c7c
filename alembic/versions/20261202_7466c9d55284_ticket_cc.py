"""ticket cc: the people copied on a ticket's thread, and who else each mail went to

Revision ID: 7466c9d55284
Revises: 5e0c7a91d2b4
Create Date: 2026-12-02 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "7466c9d55284"
down_revision: str | None = "5e0c7a91d2b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY = sa.text("'{}'::varchar[]")


def upgrade() -> None:
    op.add_column(
        "ticket",
        sa.Column("cc_emails", ARRAY(sa.String(320)), nullable=False, server_default=_EMPTY),
    )
    op.add_column(
        "ticket_message",
        sa.Column("cc_emails", ARRAY(sa.String(320)), nullable=False, server_default=_EMPTY),
    )


def downgrade() -> None:
    op.drop_column("ticket_message", "cc_emails")
    op.drop_column("ticket", "cc_emails")
