"""The firm's clients with the fields an advisory business runs on, and their notes.

Columns added after the core schema carry server defaults, so bulk loaders that COPY only the
original columns (the demo-data seeder) still produce valid rows.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class RiskCategory(StrEnum):
    CONSERVATIVE = "conservative"
    MODERATE = "moderate"
    AGGRESSIVE = "aggressive"


class ClientKind(StrEnum):
    INDIVIDUAL = "individual"
    COMPANY = "company"


class KycStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    EXPIRED = "expired"
    REJECTED = "rejected"


def _trigram_index(column: str) -> sa.Index:
    return sa.Index(
        f"ix_client_{column}_trgm",
        column,
        postgresql_using="gin",
        postgresql_ops={column: "gin_trgm_ops"},
    )


class Client(SQLModel, table=True):
    __tablename__ = "client"
    __table_args__ = (
        _trigram_index("name"),
        _trigram_index("email"),
        _trigram_index("phone"),
        sa.Index("ix_client_tags", "tags", postgresql_using="gin"),
        # Money filters, sorting and segments compare amounts in the reporting currency: the
        # list's most common filter pair (risk and a net worth range), and each money column.
        sa.Index("ix_client_risk_net_worth_reporting", "risk_category", "net_worth_reporting"),
        sa.Index("ix_client_net_worth_reporting", "net_worth_reporting"),
        sa.Index("ix_client_aum_reporting", "aum_reporting"),
        # The mail intake finds a sender's client by address, case-insensitively.
        sa.Index("ix_client_email_lower", sa.text("lower(email)")),
        # The list's "Unverified" filter, in its default order, and the filter chip's count: a
        # few rows among many, so a partial index keeps both index scans.
        sa.Index(
            "ix_client_unverified",
            "name",
            "id",
            postgresql_where=sa.text("verified IS false AND deleted_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(
        default=ClientKind.INDIVIDUAL.value,
        sa_type=sa.String(32),
        sa_column_kwargs={"server_default": ClientKind.INDIVIDUAL.value},
    )
    name: str = Field(sa_type=sa.String(200), index=True)
    # The primary address and number; more of each in other_emails / other_phones.
    email: str | None = Field(default=None, sa_type=sa.String(320), index=True)
    phone: str | None = Field(default=None, sa_type=sa.String(40))  # E.164 when entered here
    other_emails: list[str] = Field(
        default_factory=list,
        sa_type=ARRAY(sa.String(320)),
        sa_column_kwargs={"server_default": "{}"},
    )
    other_phones: list[str] = Field(
        default_factory=list,
        sa_type=ARRAY(sa.String(40)),
        sa_column_kwargs={"server_default": "{}"},
    )
    country: str | None = Field(default=None, sa_type=sa.String(2), index=True)  # ISO 3166
    region: str | None = Field(default=None, sa_type=sa.String(100))
    risk_category: str = enum_field(RiskCategory, RiskCategory.MODERATE)
    # Money fields: exact decimals in `currency`; hidden from marketing by the services.
    net_worth: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    aum: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    currency: str = Field(default="USD", sa_type=sa.String(3))
    # The two amounts in the reporting currency at today's rate, kept by a database trigger on
    # every write and by `currency_rates` when a rate changes; NULL when no rate is known.
    # Read-only here: the ORM never writes them (the trigger would overwrite it anyway).
    net_worth_reporting: Decimal | None = Field(default=None, sa_type=sa.Numeric(24, 2))
    aum_reporting: Decimal | None = Field(default=None, sa_type=sa.Numeric(24, 2))
    kyc_status: str = Field(
        default=KycStatus.PENDING.value,
        sa_type=sa.String(32),
        sa_column_kwargs={"server_default": KycStatus.PENDING.value},
    )
    kyc_review_due: date | None = Field(default=None)
    # The relationship manager.
    owner_agent_id: int | None = Field(
        default=None, foreign_key="user_account.id", index=True, ondelete="SET NULL"
    )
    tags: list[str] = Field(
        default_factory=list,
        sa_type=ARRAY(sa.String(50)),
        sa_column_kwargs={"server_default": "{}"},
    )
    # Values of manager-defined fields (client_field_definition), keyed by the field's key.
    custom_fields: dict[str, Any] = Field(
        default_factory=dict, sa_type=JSONB, sa_column_kwargs={"server_default": "{}"}
    )
    marketing_consent: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    marketing_consent_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    marketing_consent_source: str | None = Field(default=None, sa_type=sa.String(100))
    portal_user_id: int | None = Field(
        default=None, foreign_key="user_account.id", index=True, ondelete="SET NULL"
    )
    # Privacy: a legal hold blocks erasure; erased rows keep their id and ticket links.
    legal_hold: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    legal_hold_reason: str | None = Field(default=None, sa_type=sa.String(300))
    erased_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    # Indexed: deleting clients checks this self-reference row by row.
    merged_into_id: int | None = Field(
        default=None, foreign_key="client.id", index=True, ondelete="SET NULL"
    )
    # False for a client made from an incoming message (mail, web chat, WhatsApp) from someone
    # unknown, until an agent confirms it or merges it into the client it belongs to.
    verified: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    deleted_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class ClientNote(SQLModel, table=True):
    __tablename__ = "client_note"

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True, ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = timestamp_field()


class CustomFieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    CHOICE = "choice"


class ClientFieldDefinition(SQLModel, table=True):
    """A typed custom field a manager adds to every client record."""

    __tablename__ = "client_field_definition"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_type=sa.String(40), unique=True)
    label: str = Field(sa_type=sa.String(100))
    field_type: str = enum_field(CustomFieldType, CustomFieldType.TEXT)
    choices: list[str] = Field(default_factory=list, sa_type=ARRAY(sa.String(100)))
    created_at: datetime = timestamp_field()


class ClientListLayout(SQLModel, table=True):
    """The columns one user chose to see on the client list (the rest is in the profile)."""

    __tablename__ = "client_list_layout"

    user_id: int = Field(primary_key=True, foreign_key="user_account.id", ondelete="CASCADE")
    columns: list[str] = Field(default_factory=list, sa_type=ARRAY(sa.String(40)))
    updated_at: datetime = timestamp_field()
