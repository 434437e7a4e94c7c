"""Money across currencies: filters, sorting and segments compare amounts in the one reporting
currency at the manager's rates, never raw numbers; the record keeps its own currency."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_app.db import session_scope
from crm_app.services import clients, currency_rates, segments
from crm_app.services.errors import InvalidInput, PermissionDenied
from models.audit import AuditLog
from tests.factories import make_user


def _clients(agent) -> None:
    # 1,000,000 JPY is about 6,700 USD; 10,000 GBP about 12,700 USD; 9,000 USD is 9,000 USD.
    clients.create_client(agent, name="Yen Client", net_worth="1000000", currency="JPY")
    clients.create_client(agent, name="Pound Client", net_worth="10000", currency="GBP")
    clients.create_client(agent, name="Dollar Client", net_worth="9000", currency="USD")


def test_net_worth_filters_and_sorting_compare_in_the_reporting_currency(db: str) -> None:
    manager, agent = make_user("manager"), make_user("agent")
    currency_rates.set_rate(manager, "JPY", "0.0067", "2026-11-30", "ECB")
    currency_rates.set_rate(manager, "GBP", "1.27", "2026-11-30", "ECB")
    _clients(agent)
    richest = clients.list_clients(agent, sort="net_worth", descending=True)
    assert [r.name for r in richest.items] == ["Pound Client", "Dollar Client", "Yen Client"]
    assert richest.items[2].net_worth == "JPY 1,000,000.00"  # shown in its own currency
    assert richest.items[2].net_worth_converted == "≈ USD 6,700"
    above = clients.list_clients(agent, filters={"net_worth__min": "8000"})
    assert {r.name for r in above.items} == {"Pound Client", "Dollar Client"}
    rules = {"op": "and", "rules": [{"field": "net_worth", "operator": "lt", "value": "8000"}]}
    assert [c[1] for c in segments.preview_rules(manager, rules).clients] == ["Yen Client"]
    labels = {f["key"]: f["label"] for f in segments.field_options(manager)}
    assert labels["net_worth"] == "Net worth in USD"


def test_a_rate_change_reconverts_that_currencys_clients_at_once_and_is_audited(
    db: str,
) -> None:
    manager, agent = make_user("manager"), make_user("agent")
    currency_rates.set_rate(manager, "JPY", "0.0067", "2026-11-30")
    _clients(agent)
    assert clients.list_clients(agent, filters={"net_worth__min": "8000"}).total == 1
    currency_rates.set_rate(manager, "JPY", "0.01", "2026-12-01", "desk quote")
    names = {r.name for r in clients.list_clients(agent, filters={"net_worth__min": "8000"}).items}
    assert names == {"Yen Client", "Dollar Client"}
    view = currency_rates.list_rates(manager)
    jpy = next(r for r in view.rates if r.currency == "JPY")
    assert (jpy.rate, jpy.as_of, jpy.source, jpy.clients) == ("0.01", "2026-12-01", "desk quote", 1)
    assert view.missing == ["GBP"]  # a currency in use without a rate is named, not guessed
    with session_scope() as session:
        entry = (
            session.execute(
                select(AuditLog)
                .where(AuditLog.action == "currency_rate.set")
                .order_by(AuditLog.id.desc())
            )
            .scalars()
            .first()
        )
    assert entry.changes["rate"] == ["0.006700000000", "0.01"]


def test_clients_in_a_currency_without_a_rate_are_left_out_of_money_filters(db: str) -> None:
    agent = make_user("agent")
    _clients(agent)
    page = clients.list_clients(agent, filters={"net_worth__min": "1"})
    assert [r.name for r in page.items] == ["Dollar Client"]
    yen = next(r for r in clients.list_clients(agent).items if r.name == "Yen Client")
    assert yen.net_worth_converted == "no JPY rate"


def test_switching_the_reporting_currency_re_expresses_every_rate(db: str) -> None:
    manager, agent = make_user("manager"), make_user("agent")
    currency_rates.set_rate(manager, "GBP", "1.25", "2026-11-30")
    currency_rates.set_rate(manager, "JPY", "0.00625", "2026-11-30")
    _clients(agent)
    with pytest.raises(InvalidInput, match="rate for EUR first"):
        currency_rates.set_reporting_currency(manager, "EUR")
    assert currency_rates.set_reporting_currency(manager, "GBP") == "GBP"
    rates = {r.currency: r.rate for r in currency_rates.list_rates(manager).rates}
    assert rates == {"GBP": "1.0", "JPY": "0.005", "USD": "0.8"}
    dollar = next(r for r in clients.list_clients(agent).items if r.name == "Dollar Client")
    assert dollar.net_worth == "USD 9,000.00" and dollar.net_worth_converted == "≈ GBP 7,200"
    assert clients.list_clients(agent, filters={"net_worth__min": "7000"}).total == 2


def test_only_managers_set_rates_and_the_values_are_checked(db: str) -> None:
    manager = make_user("manager")
    for role in ("agent", "marketing", "client", None):
        with pytest.raises(PermissionDenied):
            currency_rates.set_rate(make_user(role), "EUR", "1.08", "2026-11-30")
    for bad in ("0", "-1", "abc", "NaN", "1e12"):
        with pytest.raises(InvalidInput):
            currency_rates.set_rate(manager, "EUR", bad, "2026-11-30")
    with pytest.raises(InvalidInput):
        currency_rates.set_rate(manager, "XXX", "1", "2026-11-30")
    with pytest.raises(InvalidInput, match="always 1"):
        currency_rates.set_rate(manager, "USD", "2", "2026-11-30")
    with pytest.raises(InvalidInput, match="future"):
        currency_rates.set_rate(manager, "EUR", "1.08", "2999-01-01")
