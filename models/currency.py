"""Exchange rates into the firm's one reporting currency, which money filters, sorting and
segments compare in. A client keeps its own currency; `client.net_worth_reporting` and
`client.aum_reporting` hold its amounts converted at the current rate (see the migration's
trigger and `crm_app.services.currency_rates`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import timestamp_field

# Used until a manager picks one; the migration's trigger falls back to the same code.
DEFAULT_REPORTING_CURRENCY = "USD"


class ReportingCurrency(SQLModel, table=True):
    """One row (id 1): the currency every money comparison is made in."""

    __tablename__ = "reporting_currency"

    id: int | None = Field(default=None, primary_key=True)
    currency: str = Field(default=DEFAULT_REPORTING_CURRENCY, sa_type=sa.String(3))
    updated_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    updated_at: datetime = timestamp_field()


class CurrencyRate(SQLModel, table=True):
    """How many units of the reporting currency one unit of `currency` is worth, as of a day."""

    __tablename__ = "currency_rate"

    currency: str = Field(primary_key=True, sa_type=sa.String(3))
    rate: Decimal = Field(sa_type=sa.Numeric(24, 12))
    as_of: date
    source: str = Field(default="", sa_type=sa.String(200))
    updated_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    updated_at: datetime = timestamp_field()
