"""notifications: the bell's unread count and list by index; one SLA warning per assignee

Revision ID: 2d5b2bc3e6b3
Revises: 14c4b9724541
Create Date: 2026-12-01 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2d5b2bc3e6b3"
down_revision: str | None = "14c4b9724541"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_notification_user_newest", "notification", ["user_id", "id"])
    op.create_index("ix_notification_user_unread", "notification", ["user_id"],
                    postgresql_where=sa.text("read_at IS NULL"))
    op.create_index("uq_notification_sla_once", "notification",
                    ["user_id", "ticket_id", "kind"], unique=True,
                    postgresql_where=sa.text("kind = 'sla_near_breach'"))


def downgrade() -> None:
    op.drop_index("uq_notification_sla_once", table_name="notification")
    op.drop_index("ix_notification_user_unread", table_name="notification")
    op.drop_index("ix_notification_user_newest", table_name="notification")
