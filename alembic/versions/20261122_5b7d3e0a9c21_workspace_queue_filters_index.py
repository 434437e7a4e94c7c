"""workspace: one covering index for the queue's filters and sort keys

Revision ID: 5b7d3e0a9c21
Revises: 2f2ce83e7ed5
Create Date: 2026-11-22 12:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5b7d3e0a9c21"
down_revision: str | None = "2f2ce83e7ed5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Capped counts and the sort of filtered queues read only this index (PostgreSQL 18 skip
    # scan covers the columns a filter leaves out). ~4 s on a million tickets.
    op.create_index(
        "ix_ticket_filters", "ticket",
        ["status", "sla_state", "priority", "channel", "assignee_id"],
        postgresql_include=["queue_bucket", "queue_due_at"],
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_filters", table_name="ticket")
