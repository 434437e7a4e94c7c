"""The same websocket probe as `test_security_probe`, by a signed-in agent: every handler of
every State, with ids and hostile arguments. An agent works tickets and clients, so those may
change; what only a manager may do must not: roles and accounts, the language model settings
(whose API key never reaches any browser), round-robin assignment, exchange rates, custom
client fields."""

from __future__ import annotations

import crm_app.crm_app  # noqa: F401 - registers every page, so every State is probed
from crm_app.ai import llm
from crm_app.auth.permissions import Actor
from crm_app.services import accounts, assignment, currency_rates
from crm_app.services.client_fields import list_custom_fields
from tests.e2e.reflex_socket import excerpt_of, sign_in_cookie
from tests.e2e.test_security_probe import GENERIC_ERROR, sweep_as
from tests.factories import PASSWORD, make_client, make_user

API_KEY = "sk-sentinel-key-4Rq9Zt"


def _manager_settings(manager: Actor) -> tuple:
    config = llm.load_config()
    rates = currency_rates.list_rates(manager)
    return (
        [(u.id, u.role, u.is_active) for u in accounts.list_users(manager)],
        (config.chat_model, config.api_base, config.api_key, config.use_for_sentiment),
        assignment.status(manager).round_robin_enabled,
        rates.reporting_currency,
        [(r.currency, r.rate) for r in rates.rates],
        [(f.key, f.label) for f in list_custom_fields(manager)],
    )


def test_an_agent_changes_nothing_that_only_a_manager_may(db: str, app_url: str) -> None:
    manager = make_user("manager", name="Mona Manager")
    llm.update_config(manager, chat_model="openai/fake-chat", api_key=API_KEY)
    currency_rates.set_rate(manager, "EUR", "1.08", "2026-11-30")
    agent = make_user("agent", name="Andy Agent")
    client_id = make_client(manager, "Probe Client")
    before = _manager_settings(manager)
    cookie = sign_in_cookie(app_url, agent.email, PASSWORD)
    paths = ["/users", "/settings/ai", "/settings/currency-rates", "/settings/client-fields"]
    targets = [manager.user_id or 1, agent.user_id or 2, client_id]
    tab, sent = sweep_as(app_url, cookie, paths, targets)
    seen = tab.text()
    assert sent > 300  # the sweep really covered the app's handlers
    assert not (excerpt_of(seen, API_KEY) or excerpt_of(seen, API_KEY[-8:]))
    assert not excerpt_of(seen, manager.email)  # the users page's list is the manager's
    assert not excerpt_of(seen, GENERIC_ERROR), "a hostile argument crashed a handler"
    assert _manager_settings(manager) == before
