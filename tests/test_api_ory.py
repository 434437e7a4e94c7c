"""Ory sign-in with local roles, against a local fake Kratos (tests/fake_kratos.py) over real
HTTP, driven by the official `ory-client` SDK: native login, registration, recovery and
logout through the app's own form endpoints; whoami re-checked per request (cached briefly);
first-seen identities become local users with no role; a disabled identity loses access."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from crm_app.api import build_api
from crm_app.api.security import SecurityMiddleware
from crm_app.auth import ory
from crm_app.db import session_scope
from crm_app.services import accounts
from crm_app.services.errors import PermissionDenied
from crm_app.settings import get_settings
from models.audit import AuditLog
from models.user import IdentityProvider, User
from pages.signup import SignupState
from tests.factories import PASSWORD, make_user
from tests.fake_kratos import RunningKratos, free_port

ORY_PASSWORD = "ory-password-123"


@pytest.fixture(scope="module")
def kratos() -> Iterator[RunningKratos]:
    running = RunningKratos()
    yield running
    running.stop()


@pytest.fixture
def ory_on(
    kratos: RunningKratos, db: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningKratos]:
    monkeypatch.setenv("ORY_SDK_URL", kratos.url)
    monkeypatch.setenv("CRM_ORY_WHOAMI_CACHE_SECONDS", "0")
    get_settings.cache_clear()
    ory._cache.clear()
    kratos.kratos.identities.clear()
    kratos.kratos.sessions.clear()
    yield kratos
    get_settings.cache_clear()


@pytest.fixture
def web() -> TestClient:
    return TestClient(SecurityMiddleware(build_api()), base_url="http://crm.test")


def _sign_in(web: TestClient, email: str, password: str = ORY_PASSWORD) -> httpx.Response:
    return web.post(
        "/api/auth/ory/login",
        data={"email": email, "password": password},
        headers={"Origin": "http://crm.test"},
        follow_redirects=False,
    )


def test_an_ory_sign_in_creates_a_local_user_with_no_role(
    ory_on: RunningKratos, web: TestClient
) -> None:
    manager = make_user("manager")
    identity = ory_on.kratos.add_identity("ory.person@firm.example", ORY_PASSWORD, "Ory Person")
    response = _sign_in(web, "ory.person@firm.example")
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert (
        "crm_session=" in response.headers["set-cookie"]
        and "httponly" in response.headers["set-cookie"].lower()
    )
    assert identity.id not in response.text and "ory_st_" not in response.headers["set-cookie"]
    me = web.get("/api/v1/users/me").json()
    assert me["email"] == "ory.person@firm.example" and me["role"] is None
    with session_scope() as session:
        user = session.execute(
            select(User).where(User.email == "ory.person@firm.example")
        ).scalar_one()
        assert user.identity_provider == IdentityProvider.ORY and user.external_id == identity.id
    # Roles stay local: a manager assigns one as for anyone else.
    accounts.assign_role(manager, me["id"], "agent")
    assert web.get("/api/v1/users/me").json()["role"] == "agent"
    # The same identity signing in again is the same local user.
    _sign_in(web, "ory.person@firm.example")
    assert web.get("/api/v1/users/me").json()["id"] == me["id"]


def test_a_sign_up_default_role_applies_to_first_seen_identities(
    ory_on: RunningKratos, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_SIGNUP_DEFAULT_ROLE", "client")
    get_settings.cache_clear()
    ory_on.kratos.add_identity("portal@firm.example", ORY_PASSWORD)
    _sign_in(web, "portal@firm.example")
    assert web.get("/api/v1/users/me").json()["role"] == "client"


def test_a_verified_ory_email_of_an_existing_staff_user_signs_in_as_that_user(
    ory_on: RunningKratos, web: TestClient
) -> None:
    agent = make_user("agent", name="Agnes Agent")
    identity = ory_on.kratos.add_identity(agent.email, ORY_PASSWORD, verified=True)
    response = _sign_in(web, agent.email)
    assert response.headers["location"] == "/"
    me = web.get("/api/v1/users/me").json()
    assert (me["id"], me["role"]) == (agent.user_id, "agent")  # the same user, its role kept
    with session_scope() as session:
        user = session.get(User, agent.user_id)
        assert (user.identity_provider, user.external_id) == (IdentityProvider.ORY, identity.id)
        audits = (
            session.execute(
                select(AuditLog).where(
                    AuditLog.action == "user.linked_to_ory", AuditLog.entity_id == agent.user_id
                )
            )
            .scalars()
            .all()
        )
    assert len(audits) == 1 and audits[0].changes["ory_identity"] == identity.id
    _sign_in(web, agent.email)  # signing in again neither links again nor makes a new user
    assert web.get("/api/v1/users/me").json()["id"] == agent.user_id
    with session_scope() as session:
        assert (
            session.execute(
                select(func.count()).select_from(User).where(User.email == agent.email)
            ).scalar_one()
            == 1
        )


def test_an_unverified_ory_email_of_an_existing_user_is_refused_with_a_reason(
    ory_on: RunningKratos, web: TestClient
) -> None:
    manager = make_user("manager")
    identity = ory_on.kratos.add_identity(manager.email, ORY_PASSWORD)  # not verified
    response = _sign_in(web, manager.email)
    assert response.headers["location"].startswith("/ory/login?error=")
    assert "Verify+your+email" in response.headers["location"]
    assert web.get("/api/v1/users/me").status_code == 401
    with session_scope() as session:
        assert session.get(User, manager.user_id).external_id is None
    # Once Ory verified the address, the same sign-in links the account.
    httpx.post(f"{ory_on.url}/fake/identities/{identity.id}/verify")
    _sign_in(web, manager.email)
    assert web.get("/api/v1/users/me").json()["id"] == manager.user_id


def _redirect_path(event: object) -> str:
    return {name._js_expr: value for name, value in event.args}["path"]._var_value


def test_in_ory_mode_the_built_in_sign_up_is_off(
    ory_on: RunningKratos, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_AUTH_MODE", "ory")
    get_settings.cache_clear()
    with pytest.raises(PermissionDenied, match="firm account"):
        accounts.sign_up("newcomer@firm.example", "New Comer", "a long and fresh passphrase")
    with session_scope() as session:
        assert (
            session.execute(select(User.id).where(User.email == "newcomer@firm.example")).first()
            is None
        )
    # The page sends the visitor to Ory's registration page instead of showing the form.
    open_form = SignupState.event_handlers["open_form"].fn
    assert _redirect_path(open_form(SimpleNamespace())) == "/ory/register"
    monkeypatch.setenv("CRM_AUTH_MODE", "both")  # beside Ory, built-in sign-up stays open
    get_settings.cache_clear()
    assert open_form(SimpleNamespace()) is None
    assert accounts.sign_up("newcomer@firm.example", "New Comer", "a long and fresh passphrase")


def test_an_identity_disabled_in_ory_loses_access_at_its_next_request(
    ory_on: RunningKratos, web: TestClient
) -> None:
    identity = ory_on.kratos.add_identity("leaver@firm.example", ORY_PASSWORD)
    _sign_in(web, "leaver@firm.example")
    assert web.get("/api/v1/users/me").status_code == 200
    httpx.post(f"{ory_on.url}/fake/identities/{identity.id}/disable")
    assert web.get("/api/v1/users/me").status_code == 401
    # And the local session is revoked: Ory coming back does not revive it.
    assert web.get("/api/v1/users/me").status_code == 401


def test_ory_unreachable_means_not_signed_in_never_a_server_error(
    db: str, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORY_SDK_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("CRM_ORY_WHOAMI_CACHE_SECONDS", "0")
    get_settings.cache_clear()
    ory._cache.clear()
    try:
        answer = web.get("/api/v1/users/me", headers={"X-Session-Token": "ory_st_anything"})
    finally:
        get_settings.cache_clear()
    assert answer.status_code == 401


def test_whoami_is_cached_briefly(
    ory_on: RunningKratos, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_ORY_WHOAMI_CACHE_SECONDS", "60")
    get_settings.cache_clear()
    ory_on.kratos.add_identity("busy@firm.example", ORY_PASSWORD)
    _sign_in(web, "busy@firm.example")
    before = ory_on.kratos.whoami_calls
    for _ in range(3):
        assert web.get("/api/v1/users/me").status_code == 200
    assert ory_on.kratos.whoami_calls - before <= 1


def test_a_wrong_password_goes_back_to_the_form_with_a_message(
    ory_on: RunningKratos, web: TestClient
) -> None:
    ory_on.kratos.add_identity("ory.person@firm.example", ORY_PASSWORD)
    response = _sign_in(web, "ory.person@firm.example", "not-the-password")
    assert response.status_code == 303 and response.headers["location"].startswith(
        "/ory/login?error="
    )
    assert "crm_session" not in response.headers.get("set-cookie", "")


def test_registration_through_ory_signs_the_new_person_in(
    ory_on: RunningKratos, web: TestClient
) -> None:
    response = web.post(
        "/api/auth/ory/register",
        data={"email": "New.Person@firm.example", "name": "New Person", "password": ORY_PASSWORD},
        headers={"Origin": "http://crm.test"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.headers
    me = web.get("/api/v1/users/me").json()
    assert me["email"] == "new.person@firm.example" and me["name"] == "New Person"
    assert ory_on.kratos.by_email("new.person@firm.example") is not None


def test_recovery_by_code_sets_a_new_password(ory_on: RunningKratos, web: TestClient) -> None:
    ory_on.kratos.add_identity("forgetful@firm.example", ORY_PASSWORD)
    started = web.post(
        "/api/auth/ory/recovery",
        data={"email": "forgetful@firm.example"},
        headers={"Origin": "http://crm.test"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    flow = httpx.URL(started.headers["location"]).params["flow"]
    code = httpx.get(
        f"{ory_on.url}/fake/recovery-code", params={"email": "forgetful@firm.example"}
    ).json()["code"]
    finished = web.post(
        "/api/auth/ory/recovery/finish",
        data={"flow": flow, "code": code, "password": "a-brand-new-password"},
        headers={"Origin": "http://crm.test"},
        follow_redirects=False,
    )
    assert finished.status_code == 303 and finished.headers["location"] == "/"
    assert web.get("/api/v1/users/me").json()["email"] == "forgetful@firm.example"
    web.cookies.clear()
    assert (
        _sign_in(web, "forgetful@firm.example", "a-brand-new-password").headers["location"] == "/"
    )


def test_signing_out_ends_the_kratos_session_too(ory_on: RunningKratos, web: TestClient) -> None:
    ory_on.kratos.add_identity("done@firm.example", ORY_PASSWORD)
    _sign_in(web, "done@firm.example")
    assert len(ory_on.kratos.sessions) == 1
    web.post("/api/auth/logout", headers={"Origin": "http://crm.test"}, follow_redirects=False)
    assert ory_on.kratos.sessions == {}
    assert web.get("/api/v1/users/me").status_code == 401


def test_a_native_app_may_call_the_api_with_its_kratos_session_token(
    ory_on: RunningKratos, web: TestClient
) -> None:
    ory_on.kratos.add_identity("mobile@firm.example", ORY_PASSWORD)
    flow = httpx.get(f"{ory_on.url}/self-service/login/api").json()
    login = httpx.post(
        f"{ory_on.url}/self-service/login",
        params={"flow": flow["id"]},
        json={"method": "password", "identifier": "mobile@firm.example", "password": ORY_PASSWORD},
    ).json()
    me = web.get("/api/v1/users/me", headers={"X-Session-Token": login["session_token"]})
    assert me.status_code == 200 and me.json()["authenticated_by"] == "ory"


def test_in_ory_mode_the_built_in_sign_in_is_refused(
    ory_on: RunningKratos, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user("agent")
    monkeypatch.setenv("CRM_AUTH_MODE", "ory")
    get_settings.cache_clear()
    response = web.post(
        "/api/auth/login",
        data={"email": user.email, "password": PASSWORD},
        headers={"Origin": "http://crm.test"},
        follow_redirects=False,
    )
    assert response.headers["location"].startswith("/ory/login?error=")


def test_without_ory_configured_built_in_accounts_work_and_ory_is_off(
    db: str, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORY_SDK_URL", raising=False)
    monkeypatch.delenv("CRM_AUTH_MODE", raising=False)
    get_settings.cache_clear()
    assert not ory.enabled() and ory.builtin_allowed()
    user = make_user("agent")
    response = web.post(
        "/api/auth/login",
        data={"email": user.email, "password": PASSWORD},
        headers={"Origin": "http://crm.test"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"
    assert web.get("/api/v1/users/me").json()["authenticated_by"] == "session"
    get_settings.cache_clear()
    get_settings.cache_clear()


def test_an_operator_makes_the_first_ory_user_a_manager_from_the_cli(
    ory_on: RunningKratos, web: TestClient
) -> None:
    from crm_app import cli

    ory_on.kratos.add_identity("founder@firm.example", ORY_PASSWORD, "Founder")
    _sign_in(web, "founder@firm.example")
    assert web.get("/api/v1/users/me").json()["role"] is None
    assert cli.main(["set-role", "--email", "founder@firm.example", "--role", "manager"]) == 0
    assert web.get("/api/v1/users/me").json()["role"] == "manager"
    assert cli.main(["set-role", "--email", "nobody@firm.example", "--role", "agent"]) == 1
