"""Built-in accounts: setup, sign-up, login, sessions, rate limiting, role changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crm_app.db import session_scope
from crm_app.services import accounts
from crm_app.services.errors import Conflict, InvalidInput
from models.audit import AuditLog
from models.user import User, UserSession
from tests.factories import PASSWORD, log_in


def test_first_manager_only_on_an_empty_instance(db: str) -> None:
    assert accounts.needs_setup()
    manager = accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
    assert manager.role == "manager" and not accounts.needs_setup()
    with pytest.raises(Conflict):
        accounts.create_first_manager("eve@firm.example", "Eve", PASSWORD)


def test_new_account_has_no_role(db: str) -> None:
    accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
    user = accounts.sign_up("New.Person@Firm.example", "New Person", PASSWORD)
    assert user is not None
    assert user.role is None and user.email == "new.person@firm.example"


def test_passwords_are_stored_as_argon2_hashes(db: str) -> None:
    accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
    with session_scope() as session:
        stored = session.execute(select(User.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_login_session_and_logout(db: str) -> None:
    accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
    token = log_in("BOSS@firm.example", PASSWORD)
    actor = accounts.actor_for_token(token)
    assert actor is not None and actor.role == "manager"
    accounts.log_out(token)
    assert accounts.actor_for_token(token) is None


def test_expired_session_is_refused(db: str) -> None:
    accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
    token = log_in("boss@firm.example", PASSWORD)
    with session_scope() as session:
        session.execute(
            update(UserSession).values(expires_at=UserSession.created_at - timedelta(seconds=1))
        )
    assert accounts.actor_for_token(token) is None


def test_session_tokens_are_stored_only_as_hashes(db: str) -> None:
    accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
    token = log_in("boss@firm.example", PASSWORD)
    with session_scope() as session:
        stored = session.execute(select(UserSession.token_hash)).scalar_one()
    assert token not in stored and len(stored) == 64


def test_role_change_is_audited_with_before_and_after(db: str) -> None:
    boss = accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
    new = accounts.sign_up("new@firm.example", "New", PASSWORD)
    manager = accounts.actor_for_token(log_in("boss@firm.example", PASSWORD))
    accounts.assign_role(manager, new.id, "agent")
    with session_scope() as session:
        entry = session.execute(
            select(AuditLog).where(AuditLog.action == "user.role_changed")
        ).scalar_one()
    assert entry.actor_id == boss.id and entry.entity_id == new.id
    assert entry.changes == {"role": [None, "agent"]}


def test_manager_cannot_demote_themselves(db: str) -> None:
    boss = accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
    manager = accounts.actor_for_token(log_in("boss@firm.example", PASSWORD))
    with pytest.raises(InvalidInput):
        accounts.assign_role(manager, boss.id, "agent")


@pytest.mark.parametrize(
    "email,name,password",
    [
        ("not-an-email", "X", PASSWORD),
        ("a@b.example", "", PASSWORD),
        ("a@b.example", "X", "short"),
        ("<script>@x", "X", PASSWORD),
    ],
)
def test_bad_sign_up_input_gets_a_clear_message(
    db: str, email: str, name: str, password: str
) -> None:
    accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
    with pytest.raises(InvalidInput) as refused:
        accounts.sign_up(email, name, password)
    assert refused.value.message


def test_cli_creates_the_first_manager_for_scripted_installs(db: str) -> None:
    import os
    import subprocess
    import sys

    from crm_app.settings import PROJECT_ROOT

    env = {**os.environ, "CRM_MANAGER_PASSWORD": PASSWORD}
    command = [
        sys.executable,
        "-m",
        "crm_app.cli",
        "create-manager",
        "--email",
        "ops@firm.example",
        "--name",
        "Ops Lead",
    ]
    first = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    assert "created manager ops@firm.example" in first.stdout
    actor = accounts.actor_for_token(log_in("ops@firm.example", PASSWORD))
    assert actor is not None and actor.role == "manager"
    second = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 1 and "already set up" in second.stderr
