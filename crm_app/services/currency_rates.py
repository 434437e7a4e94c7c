"""The reporting currency and the exchange rates into it (managers), and what money filters,
sorting and segments compare: a client's amounts converted into the reporting currency.

A client keeps its own currency and amounts. `client.net_worth_reporting` / `aum_reporting`
hold the converted amounts, indexed, so a range filter or a sort by net worth over a million
clients reads an index instead of converting every row (the migration
`20261201_84ea624d48e2` explains the choice). A database trigger fills them on every write of a
client; this module rewrites them when a rate or the reporting currency changes, in the same
transaction as the change and its audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, text
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.client_fields import CURRENCIES, clean_text, parse_choice, parse_date
from crm_app.services.errors import InvalidInput
from models.base import utcnow
from models.client import Client
from models.currency import DEFAULT_REPORTING_CURRENCY, CurrencyRate, ReportingCurrency
from models.user import User

MAX_RATE = Decimal("1e9")
STALE_AFTER = timedelta(days=7)
# Rewrites the converted amounts of the clients in some currencies from the rate table; a
# currency without a rate (and not the reporting one) converts to NULL: left out, never guessed.
_RECOMPUTE = text(
    "UPDATE client c SET"
    " net_worth_reporting = round(c.net_worth * r.factor, 2),"
    " aum_reporting = round(c.aum * r.factor, 2)"
    " FROM (SELECT code, (SELECT rate FROM currency_rate WHERE currency = code) AS factor"
    "       FROM unnest(CAST(:codes AS varchar[])) AS code) r"
    " WHERE c.currency = r.code"
    " AND (c.net_worth IS NOT NULL OR c.aum IS NOT NULL)"
)


@dataclass(frozen=True)
class RateRow:
    currency: str
    rate: str  # units of the reporting currency per one unit, as entered
    as_of: str
    source: str
    updated_by: str
    updated_at: str
    stale: bool  # older than a week: the page says so
    clients: int  # clients holding amounts in this currency


@dataclass(frozen=True)
class RatesView:
    reporting_currency: str
    rates: list[RateRow]
    missing: list[str]  # currencies clients use that have no rate: left out of money filters


def reporting_currency(session: Session) -> str:
    row = session.get(ReportingCurrency, 1)
    return row.currency if row else DEFAULT_REPORTING_CURRENCY


def current_reporting_currency(actor: Actor) -> str:
    """The code money filters and sorting are in, for labels on the list and segment pages."""
    require(actor, Action.VIEW_CLIENTS)
    with session_scope() as session:
        return reporting_currency(session)


def parse_rate(value: Any) -> Decimal:
    try:
        rate = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput("A rate is a number, e.g. 1.0842.") from None
    if not rate.is_finite() or rate <= 0 or rate >= MAX_RATE:
        raise InvalidInput("A rate must be above 0 and below 10^9.")
    if rate != rate.quantize(Decimal("1e-12")):
        raise InvalidInput("A rate may have at most 12 decimals.")
    return rate


def list_rates(actor: Actor) -> RatesView:
    require(actor, Action.MANAGE_CURRENCY_RATES)
    with session_scope() as session:
        reporting = reporting_currency(session)
        used: dict[str, int] = dict(
            session.execute(
                select(col(Client.currency), func.count())
                .where(
                    col(Client.deleted_at).is_(None),
                    (col(Client.net_worth).is_not(None)) | (col(Client.aum).is_not(None)),
                )
                .group_by(Client.currency)
            ).all()
        )
        rows = (
            session.execute(
                select(CurrencyRate, col(User.name))
                .outerjoin(User, col(User.id) == col(CurrencyRate.updated_by_id))
                .order_by(CurrencyRate.currency)
            )
            .tuples()
            .all()
        )
        today = utcnow().date()
        rates = [
            RateRow(
                r.currency,
                _plain_rate(r.rate),
                r.as_of.isoformat(),
                r.source,
                who or "System",
                r.updated_at.strftime("%Y-%m-%d %H:%M UTC"),
                r.currency != reporting and today - r.as_of > STALE_AFTER,
                used.get(r.currency, 0),
            )
            for r, who in rows
        ]
        known = {r.currency for r in rates} | {reporting}
        return RatesView(reporting, rates, sorted(set(used) - known))


def _plain_rate(rate: Decimal) -> str:
    text_rate = format(rate.normalize(), "f")
    return text_rate if "." in text_rate else text_rate + ".0"


def set_rate(actor: Actor, currency: str, rate: Any, as_of: Any, source: str = "") -> RateRow:
    """Record today's (or a given day's) rate of `currency` into the reporting currency and
    convert that currency's clients at it, in one audited transaction."""
    require(actor, Action.MANAGE_CURRENCY_RATES)
    code = parse_choice(str(currency or "").upper(), CURRENCIES, "Currency")
    value = parse_rate(rate)
    day = parse_date(as_of, "Rate date") or utcnow().date()
    if day > utcnow().date() + timedelta(days=1):
        raise InvalidInput("A rate date cannot be in the future.")
    source = clean_text(source, "Source", max_length=200)
    with session_scope() as session:
        reporting = reporting_currency(session)
        if code == reporting and value != 1:
            raise InvalidInput(f"{reporting} is the reporting currency: its rate is always 1.")
        row = session.get(CurrencyRate, code, with_for_update=True)
        before = None if row is None else {"rate": str(row.rate), "as_of": row.as_of.isoformat()}
        if row is None:
            row = CurrencyRate(currency=code, rate=value, as_of=day)
            session.add(row)
        row.rate, row.as_of, row.source = value, day, source
        row.updated_by_id, row.updated_at = actor.user_id, utcnow()
        session.flush()
        converted = cast(
            "CursorResult[Any]", session.execute(_RECOMPUTE, {"codes": [code]})
        ).rowcount
        audit.record(
            session,
            actor,
            "currency_rate.set",
            "currency_rate",
            None,
            {
                "currency": code,
                "rate": [before and before["rate"], str(value)],
                "as_of": [before and before["as_of"], day.isoformat()],
                "source": source,
                "clients_converted": converted,
            },
        )
        return RateRow(
            code,
            _plain_rate(value),
            day.isoformat(),
            source,
            actor.name,
            row.updated_at.strftime("%Y-%m-%d %H:%M UTC"),
            False,
            converted,
        )


def set_reporting_currency(actor: Actor, currency: str) -> str:
    """Switch the reporting currency; every rate is re-expressed in it (keeping its date) and
    every client's converted amounts are rewritten, in one audited transaction."""
    require(actor, Action.MANAGE_CURRENCY_RATES)
    code = parse_choice(str(currency or "").upper(), CURRENCIES, "Currency")
    with session_scope() as session:
        setting = session.get(ReportingCurrency, 1, with_for_update=True)
        before = setting.currency if setting else DEFAULT_REPORTING_CURRENCY
        if code == before:
            return code
        rates = {r.currency: r for r in session.scalars(select(CurrencyRate).with_for_update())}
        pivot = rates.get(code)
        if pivot is None:
            raise InvalidInput(
                f"Enter a rate for {code} first: the other rates are re-expressed through it."
            )
        divisor = pivot.rate
        for row in rates.values():
            row.rate = (row.rate / divisor).quantize(Decimal("1e-12"))
        pivot.rate = Decimal(1)
        if before not in rates:  # the old reporting currency had no row: it was 1
            session.add(
                CurrencyRate(
                    currency=before,
                    rate=(1 / divisor).quantize(Decimal("1e-12")),
                    as_of=pivot.as_of,
                    source=f"from the {code} rate",
                    updated_by_id=actor.user_id,
                )
            )
        if setting is None:
            setting = ReportingCurrency(id=1, currency=code)
            session.add(setting)
        setting.currency, setting.updated_by_id, setting.updated_at = (
            code,
            actor.user_id,
            utcnow(),
        )
        session.flush()
        converted = cast(
            "CursorResult[Any]", session.execute(_RECOMPUTE, {"codes": list(CURRENCIES)})
        ).rowcount
        audit.record(
            session,
            actor,
            "reporting_currency.set",
            "reporting_currency",
            1,
            {"currency": [before, code], "clients_converted": converted},
        )
        return code


def converted(amount: Decimal | None, currency: str) -> str:
    """A converted amount as the list shows it beside the client's own ("≈ USD 1,234")."""
    return f"≈ {currency} {amount:,.0f}" if amount is not None else ""
