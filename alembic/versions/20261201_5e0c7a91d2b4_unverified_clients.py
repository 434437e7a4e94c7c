"""unverified clients: a partial index for the client list's "Unverified" filter and its count

Revision ID: 5e0c7a91d2b4
Revises: 68461c7ce526
Create Date: 2026-12-01 21:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e0c7a91d2b4"
down_revision: str | None = "68461c7ce526"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_client_unverified", "client", ["name", "id"],
                    postgresql_where=sa.text("verified IS false AND deleted_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_client_unverified", table_name="client")
