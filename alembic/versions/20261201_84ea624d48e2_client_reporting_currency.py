"""clients: exchange rates into one reporting currency, converted money columns kept by a
trigger, and each user's chosen client list columns

Revision ID: 84ea624d48e2
Revises: 5b7d3e0a9c21
Create Date: 2026-12-01 09:00:00.000000+00:00

Why a maintained column and not a join to the rate table at query time: the list sorts by net
worth and pages through a million clients; `ORDER BY net_worth * rate LIMIT 25` must read and
sort every row, while an index on the converted amount returns the first page at once, and a
range filter is one index range scan. Rates change a few times a day at most, clients are read
all the time, so the cost goes to the rare write: a rate change rewrites the converted amounts
of that currency's clients in the same transaction (seconds at a million), so no list ever
mixes old and new rates. The trigger covers every way a client row is written (the services,
the CSV import's set-based SQL, the demo seeder's COPY) without each having to remember.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "84ea624d48e2"
down_revision: str | None = "5b7d3e0a9c21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Indicative starter rates (USD per unit) so a fresh install compares something sensible; the
# rates page shows their source and date and a manager replaces them.
STARTER_RATES = {"USD": "1", "EUR": "1.08", "GBP": "1.27", "CHF": "1.13", "JPY": "0.0067",
                 "SGD": "0.74", "AED": "0.2723", "AUD": "0.66", "CAD": "0.73", "HKD": "0.128"}

TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION client_reporting_amounts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    factor numeric;
BEGIN
    SELECT rate INTO factor FROM currency_rate WHERE currency = NEW.currency;
    -- The reporting currency converts 1:1 even before its own row exists.
    IF factor IS NULL AND NEW.currency = COALESCE(
            (SELECT currency FROM reporting_currency WHERE id = 1), 'USD') THEN
        factor := 1;
    END IF;
    NEW.net_worth_reporting := round(NEW.net_worth * factor, 2);
    NEW.aum_reporting := round(NEW.aum * factor, 2);
    RETURN NEW;
END
$$;
"""


def upgrade() -> None:
    op.create_table(
        "reporting_currency",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("updated_by_id", sa.Integer(),
                  sa.ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "currency_rate",
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("rate", sa.Numeric(24, 12), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("updated_by_id", sa.Integer(),
                  sa.ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "client_list_layout",
        sa.Column("user_id", sa.Integer(),
                  sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("columns", sa.ARRAY(sa.String(40)), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("client", sa.Column("net_worth_reporting", sa.Numeric(24, 2), nullable=True))
    op.add_column("client", sa.Column("aum_reporting", sa.Numeric(24, 2), nullable=True))

    rates = sa.table("currency_rate", sa.column("currency"), sa.column("rate"),
                     sa.column("as_of"), sa.column("source"), sa.column("updated_at"))
    op.bulk_insert(rates, [
        {"currency": code, "rate": rate, "as_of": date(2026, 12, 1),
         "source": "starter rate (indicative), replace before reporting",
         "updated_at": datetime.now(UTC)}
        for code, rate in STARTER_RATES.items()
    ])
    op.execute("INSERT INTO reporting_currency (id, currency, updated_at) VALUES (1, 'USD', now())")
    op.execute("UPDATE client c SET net_worth_reporting = round(c.net_worth * r.rate, 2),"
               " aum_reporting = round(c.aum * r.rate, 2)"
               " FROM currency_rate r WHERE r.currency = c.currency")
    op.execute(TRIGGER_FUNCTION)
    op.execute("CREATE TRIGGER client_reporting_amounts BEFORE INSERT OR UPDATE OF"
               " net_worth, aum, currency ON client FOR EACH ROW"
               " EXECUTE FUNCTION client_reporting_amounts()")
    op.drop_index("ix_client_risk_net_worth", table_name="client", if_exists=True)
    op.create_index("ix_client_risk_net_worth_reporting", "client",
                    ["risk_category", "net_worth_reporting"])
    op.create_index("ix_client_net_worth_reporting", "client", ["net_worth_reporting"])
    op.create_index("ix_client_aum_reporting", "client", ["aum_reporting"])


def downgrade() -> None:
    op.drop_index("ix_client_aum_reporting", table_name="client")
    op.drop_index("ix_client_net_worth_reporting", table_name="client")
    op.drop_index("ix_client_risk_net_worth_reporting", table_name="client")
    op.create_index("ix_client_risk_net_worth", "client", ["risk_category", "net_worth"])
    op.execute("DROP TRIGGER IF EXISTS client_reporting_amounts ON client")
    op.execute("DROP FUNCTION IF EXISTS client_reporting_amounts()")
    op.drop_column("client", "aum_reporting")
    op.drop_column("client", "net_worth_reporting")
    op.drop_table("client_list_layout")
    op.drop_table("currency_rate")
    op.drop_table("reporting_currency")
