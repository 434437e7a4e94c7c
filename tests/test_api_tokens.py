"""Personal access tokens: shown once, stored hashed, scoped, expiring, revocable, audited."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crm_app import cli
from crm_app.db import session_scope
from crm_app.services import api_tokens
from crm_app.services.errors import InvalidInput, NotFound, PermissionDenied
from models.api_token import ApiToken
from models.audit import AuditLog
from models.base import utcnow
from tests.factories import make_user


def test_a_token_is_stored_only_as_its_hash_and_acts_as_its_owner(db: str) -> None:
    agent = make_user("agent")
    created = api_tokens.create_token(agent, "website", "write", 30)
    assert created.token.startswith(api_tokens.TOKEN_PREFIX)
    with session_scope() as session:
        stored = session.execute(select(ApiToken)).scalar_one()
        assert stored.token_hash == hashlib.sha256(created.token.encode()).hexdigest()
        assert created.token not in repr(stored.model_dump())
        entry = session.execute(
            select(AuditLog).where(AuditLog.action == "api_token.created")
        ).scalar_one()
        assert created.token not in str(entry.changes)
    auth = api_tokens.authenticate(created.token)
    assert auth is not None and auth.actor.user_id == agent.user_id and auth.may_write
    assert api_tokens.list_tokens(agent)[0].last_used_at is not None


def test_expired_revoked_or_unknown_tokens_authenticate_no_one(db: str) -> None:
    agent = make_user("agent")
    expired = api_tokens.create_token(agent, "old", "read", 1)
    revoked = api_tokens.create_token(agent, "gone", "read", 1)
    with session_scope() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == expired.row.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    api_tokens.revoke_token(agent, revoked.row.id)
    assert api_tokens.authenticate(expired.token) is None
    assert api_tokens.authenticate(revoked.token) is None
    assert api_tokens.authenticate(api_tokens.TOKEN_PREFIX + "x" * 43) is None
    assert api_tokens.authenticate("") is None


def test_a_read_token_may_not_write(db: str) -> None:
    agent = make_user("agent")
    auth = api_tokens.authenticate(api_tokens.create_token(agent, "r").token)
    assert auth is not None and not auth.may_write


def test_no_one_may_revoke_or_see_another_users_token(db: str) -> None:
    owner, other = make_user("agent"), make_user("agent")
    created = api_tokens.create_token(owner, "mine")
    assert api_tokens.list_tokens(other) == []
    for forged in (created.row.id, 2**63, -1):
        with pytest.raises(NotFound):
            api_tokens.revoke_token(other, forged)
    assert api_tokens.authenticate(created.token) is not None


def test_a_user_without_a_role_cannot_create_a_token(db: str) -> None:
    with pytest.raises(PermissionDenied):
        api_tokens.create_token(make_user(None), "x")


def test_token_lifetime_and_scope_are_checked(db: str) -> None:
    agent = make_user("agent")
    for scope, days in (("admin", 30), ("read", 0), ("read", 400)):
        with pytest.raises(InvalidInput):
            api_tokens.create_token(agent, "x", scope, days)


def test_the_cli_prints_a_working_token_and_audits_it(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    manager = make_user("manager")
    assert cli.main(["create-token", "--email", manager.email, "--scope", "write"]) == 0
    token = capsys.readouterr().out.strip()
    auth = api_tokens.authenticate(token)
    assert auth is not None and auth.actor.user_id == manager.user_id and auth.may_write
    with session_scope() as session:
        entry = session.execute(
            select(AuditLog).where(AuditLog.action == "api_token.created")
        ).scalar_one()
        assert entry.entity_id == manager.user_id and entry.changes["scope"] == "write"
    assert cli.main(["create-token", "--email", "nobody@firm.example"]) == 1
