"""chat visitor portal user: a web chat started by a client signed in to the portal

Revision ID: b7c1d4e9a3f6
Revises: 7466c9d55284
Create Date: 2026-12-02 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c1d4e9a3f6"
down_revision: str | None = "7466c9d55284"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("chat_visitor", sa.Column("portal_user_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "chat_visitor_portal_user_id_fkey", "chat_visitor", "user_account",
        ["portal_user_id"], ["id"], ondelete="CASCADE",
    )
    op.create_index("ix_chat_visitor_portal_user_id", "chat_visitor", ["portal_user_id"])


def downgrade() -> None:
    op.drop_index("ix_chat_visitor_portal_user_id", table_name="chat_visitor")
    op.drop_constraint("chat_visitor_portal_user_id_fkey", "chat_visitor", type_="foreignkey")
    op.drop_column("chat_visitor", "portal_user_id")
