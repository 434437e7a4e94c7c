"""client database and segments: finance, KYC, tags, custom fields, consent, privacy,
soft delete, trigram search; client notes, custom field definitions, segments

Revision ID: 2f2ce83e7ed5
Revises: a1e5c0de6a11
Create Date: 2026-11-22 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from alembic import op

revision: str = "2f2ce83e7ed5"
down_revision: str | None = "a1e5c0de6a11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM_COLUMNS = ("name", "email", "phone")


def _trigram_available() -> bool:
    return bool(op.get_bind().execute(sa.text(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).scalar())


def upgrade() -> None:
    # Every stock PostgreSQL ships pg_trgm (contrib). An embedded build without it gets plain
    # indexes of the same names; search then falls back to substring matching.
    trigram = _trigram_available()
    if trigram:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column("client", sa.Column("kind", sa.String(length=32), server_default="individual",
                                      nullable=False))
    op.add_column("client", sa.Column("other_emails", postgresql.ARRAY(sa.String(length=320)),
                                      server_default="{}", nullable=False))
    op.add_column("client", sa.Column("other_phones", postgresql.ARRAY(sa.String(length=40)),
                                      server_default="{}", nullable=False))
    op.add_column("client", sa.Column("country", sa.String(length=2), nullable=True))
    op.add_column("client", sa.Column("aum", sa.Numeric(precision=18, scale=2), nullable=True))
    op.add_column("client", sa.Column("kyc_status", sa.String(length=32),
                                      server_default="pending", nullable=False))
    op.add_column("client", sa.Column("kyc_review_due", sa.Date(), nullable=True))
    op.add_column("client", sa.Column("tags", postgresql.ARRAY(sa.String(length=50)),
                                      server_default="{}", nullable=False))
    op.add_column("client", sa.Column("custom_fields", postgresql.JSONB(astext_type=sa.Text()),
                                      server_default="{}", nullable=False))
    op.add_column("client", sa.Column("marketing_consent", sa.Boolean(),
                                      server_default=sa.false(), nullable=False))
    op.add_column("client", sa.Column("marketing_consent_at", sa.DateTime(timezone=True),
                                      nullable=True))
    op.add_column("client", sa.Column("marketing_consent_source", sa.String(length=100),
                                      nullable=True))
    op.add_column("client", sa.Column("legal_hold", sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    op.add_column("client", sa.Column("legal_hold_reason", sa.String(length=300),
                                      nullable=True))
    op.add_column("client", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("client", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    op.add_column("client", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key("client_merged_into_id_fkey", "client", "client", ["merged_into_id"],
                          ["id"], ondelete="SET NULL")
    op.create_index(op.f("ix_client_country"), "client", ["country"], unique=False)
    op.create_index("ix_client_tags", "client", ["tags"], unique=False, postgresql_using="gin")
    op.create_index("ix_client_risk_net_worth", "client", ["risk_category", "net_worth"],
                    unique=False)
    op.create_index(op.f("ix_client_merged_into_id"), "client", ["merged_into_id"], unique=False)
    for column in TRIGRAM_COLUMNS:
        if trigram:
            op.create_index(f"ix_client_{column}_trgm", "client", [column], unique=False,
                            postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})
        else:
            op.create_index(f"ix_client_{column}_trgm", "client", [column], unique=False)

    op.create_table(
        "client_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_client_note_client_id"), "client_note", ["client_id"],
                    unique=False)
    op.create_table(
        "client_field_definition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("field_type", sa.String(length=32), nullable=False),
        sa.Column("choices", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "segment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("segment")
    op.drop_table("client_field_definition")
    op.drop_index(op.f("ix_client_note_client_id"), table_name="client_note")
    op.drop_table("client_note")
    for column in TRIGRAM_COLUMNS:
        op.drop_index(f"ix_client_{column}_trgm", table_name="client")
    op.drop_index(op.f("ix_client_merged_into_id"), table_name="client")
    op.drop_index("ix_client_risk_net_worth", table_name="client")
    op.drop_index("ix_client_tags", table_name="client")
    op.drop_index(op.f("ix_client_country"), table_name="client")
    op.drop_constraint("client_merged_into_id_fkey", "client", type_="foreignkey")
    for column in ("deleted_at", "merged_into_id", "erased_at", "legal_hold_reason",
                   "legal_hold", "marketing_consent_source", "marketing_consent_at",
                   "marketing_consent", "custom_fields", "tags", "kyc_review_due",
                   "kyc_status", "aum", "country", "other_phones", "other_emails", "kind"):
        op.drop_column("client", column)
    # pg_trgm stays: other migrations may rely on it, and it holds no data.
