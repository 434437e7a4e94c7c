"""Sign-in throttling slows guessing without locking the owner out: per account and per client
IP, with a wait that doubles, a known device that gets its owner in, and a manager's view."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crm_app.db import session_scope
from crm_app.services import accounts
from crm_app.services.errors import InvalidInput, PermissionDenied, RateLimited
from models.audit import AuditLog
from models.user import KnownDevice, LoginThrottle
from tests.factories import PASSWORD, first_manager, make_user, skip_login_waits

OWNER_IP = "203.0.113.5"
ATTACKER_IP = "198.51.100.66"


def _attempt(
    email: str, password: str, ip: str = ATTACKER_IP, device_id: str | None = None
) -> accounts.LoginResult:
    return accounts.log_in(email, password, client_ip=ip, device_id=device_id)


def _fail_until_throttled(
    email: str, ip: str = ATTACKER_IP, device_id: str | None = None, rounds: int = 12
) -> None:
    """Guess wrong as often as the throttle lets through, skipping each wait."""
    for _ in range(rounds):
        try:
            _attempt(email, "wrong guess 123", ip, device_id)
        except InvalidInput:
            pass
        except RateLimited:
            skip_login_waits()
    skip_login_waits()
    with pytest.raises(InvalidInput):  # past the free failures, every failure earns a wait
        _attempt(email, "wrong guess 123", ip, device_id)
    with pytest.raises(RateLimited):
        _attempt(email, "wrong guess 123", ip, device_id)


def test_owner_with_the_right_password_gets_in_from_a_known_device_while_attacked(db: str) -> None:
    owner = make_user("manager")
    device = _attempt(owner.email, PASSWORD, OWNER_IP).device_id
    _fail_until_throttled(owner.email)

    # A new browser with the right password waits like the attacker; the owner's does not.
    with pytest.raises(RateLimited):
        _attempt(owner.email, PASSWORD, OWNER_IP)
    result = _attempt(owner.email, PASSWORD, OWNER_IP, device_id=device)
    assert accounts.actor_for_token(result.token).user_id == owner.user_id
    assert result.device_id == device


def test_failed_sign_ins_earn_a_doubling_wait_not_a_lock(db: str) -> None:
    owner = make_user("agent")
    waits = []
    for _ in range(7):
        with pytest.raises(InvalidInput):
            _attempt(owner.email, "wrong guess 123")
        with session_scope() as session:
            throttle = session.execute(
                select(LoginThrottle).where(LoginThrottle.subject == owner.email)
            ).scalar_one()
        if throttle.locked_until is not None:
            waits.append((throttle.locked_until - throttle.last_failure_at).total_seconds())
            with pytest.raises(RateLimited, match="Try again in"):
                _attempt(owner.email, PASSWORD)  # refused unchecked, right or wrong
            skip_login_waits()
    assert waits == [2, 4, 8, 16, 32]
    # Once the wait is over the right password works, even from a new browser.
    assert _attempt(owner.email, PASSWORD).token


def test_spraying_one_password_over_many_accounts_is_throttled_per_ip(db: str) -> None:
    victim = make_user("agent")
    for n in range(20):
        with pytest.raises(InvalidInput):
            _attempt(f"guess{n}@firm.example", "Winter2026!")
    with pytest.raises(RateLimited):
        _attempt(victim.email, "Winter2026!")
    # Other clients are not slowed by the sprayer.
    assert _attempt(victim.email, PASSWORD, OWNER_IP).token


def test_signing_in_to_an_own_account_does_not_reset_the_ip_throttle(db: str) -> None:
    sprayer = make_user(None)
    for n in range(19):
        with pytest.raises(InvalidInput):
            _attempt(f"guess{n}@firm.example", "Winter2026!")
    _attempt(sprayer.email, PASSWORD)
    with pytest.raises(InvalidInput):
        _attempt("guess-last@firm.example", "Winter2026!")
    with pytest.raises(RateLimited):
        _attempt("guess-next@firm.example", "Winter2026!")


def test_a_stolen_device_cookie_gets_its_own_backoff(db: str) -> None:
    owner = make_user("agent")
    device = _attempt(owner.email, PASSWORD, OWNER_IP).device_id
    _fail_until_throttled(owner.email, device_id=device)


def test_parallel_guesses_get_no_more_than_the_free_failures(db: str) -> None:
    owner = make_user("agent")

    def guess(_: int) -> str:
        try:
            _attempt(owner.email, "wrong guess 123")
        except InvalidInput:
            return "checked"
        except RateLimited:
            return "refused"
        return "in"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(guess, range(8)))
    assert outcomes.count("checked") == 3 and outcomes.count("refused") == 5


def test_an_unknown_or_foreign_device_id_gets_a_fresh_one(db: str) -> None:
    alice, bob = make_user("agent"), make_user("agent")
    alice_device = _attempt(alice.email, PASSWORD).device_id
    bob_result = _attempt(bob.email, PASSWORD, device_id=alice_device)
    assert bob_result.device_id != alice_device
    with session_scope() as session:
        assert (
            session.execute(select(KnownDevice.device_hash))
            .scalars()
            .all()
            .count(accounts._token_hash(alice_device))
            == 1
        )


def test_manager_sees_and_clears_throttles_and_the_clearing_is_audited(db: str) -> None:
    owner = make_user("agent")
    _fail_until_throttled(owner.email)
    manager = first_manager()
    rows = accounts.list_throttles(manager)
    row = next(r for r in rows if r.subject == owner.email)
    assert row.scope == "account" and row.failures >= 3 and row.waiting
    assert any(r.scope == "ip" and r.subject == ATTACKER_IP for r in rows)

    with pytest.raises(PermissionDenied):
        accounts.list_throttles(owner)
    with pytest.raises(PermissionDenied):
        accounts.clear_throttle(owner, row.id)

    accounts.clear_throttle(manager, row.id)
    assert all(r.subject != owner.email for r in accounts.list_throttles(manager))
    with session_scope() as session:
        entry = session.execute(
            select(AuditLog).where(AuditLog.action == "login_throttle.cleared")
        ).scalar_one()
    assert entry.actor_id == manager.user_id and entry.changes["subject"] == owner.email


def test_sweep_forgets_old_failures(db: str) -> None:
    owner = make_user("agent")
    with pytest.raises(InvalidInput):
        _attempt(owner.email, "wrong guess 123")
    with session_scope() as session:
        session.execute(
            update(LoginThrottle).values(
                last_failure_at=LoginThrottle.last_failure_at - timedelta(days=2)
            )
        )
    assert accounts.sweep()["throttles"] == 2  # the account's and the IP's
