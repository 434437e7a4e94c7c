"""ticket tags: a tag array on tickets (GIN), tags a macro adds, and the catalog of tag names

Revision ID: 7b3f9e2c5a14
Revises: c4e1a7d2b9f0
Create Date: 2026-12-01 10:45:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "7b3f9e2c5a14"
down_revision: str | None = "c4e1a7d2b9f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY = sa.text("'{}'::varchar[]")


def upgrade() -> None:
    op.add_column(
        "ticket",
        sa.Column("tags", ARRAY(sa.String(40)), nullable=False, server_default=_EMPTY),
    )
    op.create_index("ix_ticket_tags", "ticket", ["tags"], postgresql_using="gin")
    op.add_column(
        "macro",
        sa.Column("add_tags", ARRAY(sa.String(40)), nullable=False, server_default=_EMPTY),
    )
    op.create_table(
        "tag",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tag")
    op.drop_column("macro", "add_tags")
    op.drop_index("ix_ticket_tags", table_name="ticket")
    op.drop_column("ticket", "tags")
