"""Sign-in through Ory Kratos (when `ORY_SDK_URL` is set), with roles kept locally.

The product's own pages collect email and password (or a recovery code) and this module runs
Kratos' native self-service flows with the official `ory-client` SDK: sign-in, registration,
recovery (code, then a new password) and logout. A successful flow opens a local browser
session (the usual HttpOnly `crm_session` cookie) linked to the Kratos session; the Kratos
token stays on the server, encrypted. Every request that resolves such a session asks
`/sessions/whoami` again once the short cache runs out (`CRM_ORY_WHOAMI_CACHE_SECONDS`), so
an identity disabled in Ory, or a session revoked there, loses access at its next request.

An identity seen for the first time gets a local user keyed by its Ory identity id, with no
role (or `CRM_SIGNUP_DEFAULT_ROLE`); a manager assigns roles as for built-in accounts. Native
apps may instead send their Kratos session token as `X-Session-Token` to the REST API.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

import ory_client
from ory_client.api.frontend_api import FrontendApi
from ory_client.exceptions import ApiException, OpenApiException
from sqlalchemy import select
from sqlmodel import Session, col
from urllib3.exceptions import HTTPError as TransportError

from crm_app.auth.permissions import Actor
from crm_app.crypto import decrypt_secret, encrypt_secret
from crm_app.db import session_scope
from crm_app.services import audit, web_sessions
from crm_app.services.errors import InvalidInput, NotAuthenticated, PermissionDenied, ServiceError
from crm_app.settings import get_settings
from models.base import utcnow
from models.ory_session import OrySessionLink
from models.user import IdentityProvider, User, UserSession

_TIMEOUT = 10
WRONG_CREDENTIALS = "Wrong email or password."
RECOVERY_SENT = "If this address belongs to an account, a recovery code is on its way to it."


def enabled() -> bool:
    return bool(get_settings().ory_sdk_url)


def builtin_allowed() -> bool:
    """Whether the built-in accounts may sign in (`CRM_AUTH_MODE` builtin or both)."""
    return get_settings().auth_mode != "ory"


@lru_cache(maxsize=4)
def _frontend(url: str) -> FrontendApi:
    return FrontendApi(ory_client.ApiClient(ory_client.Configuration(host=url)))


def frontend() -> FrontendApi:
    url = get_settings().ory_sdk_url
    if not url:
        raise ServiceError("Ory sign-in is not configured.")
    return _frontend(url)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- whoami, cached briefly ------------------------------------------------------------------


@dataclass(frozen=True)
class OryIdentity:
    id: str
    email: str
    name: str
    active: bool
    email_verified: bool = False  # Ory verified that the identity owns `email`


_cache: dict[str, tuple[float, OryIdentity | None]] = {}
_cache_lock = threading.Lock()
_CACHE_MAX = 10_000


def _identity_of(session: Any) -> OryIdentity | None:
    identity = getattr(session, "identity", None)
    if identity is None:
        return None
    traits = identity.traits if isinstance(identity.traits, dict) else {}
    name = traits.get("name", "")
    if isinstance(name, dict):
        name = " ".join(str(name.get(k, "")) for k in ("first", "last")).strip()
    email = str(traits.get("email", "")).strip().lower()
    state = identity.state.value if hasattr(identity.state, "value") else identity.state
    verified = any(
        address.verified and str(address.value).strip().lower() == email
        for address in getattr(identity, "verifiable_addresses", None) or []
    )
    return OryIdentity(
        id=str(identity.id),
        email=email,
        name=str(name or email.split("@")[0])[:200],
        active=bool(getattr(session, "active", True)) and state in (None, "active"),
        email_verified=bool(email) and verified,
    )


def whoami(session_token: str) -> OryIdentity | None:
    """The active identity behind a Kratos session token, or None (unknown, expired, revoked,
    identity disabled, Kratos unreachable). Cached for CRM_ORY_WHOAMI_CACHE_SECONDS."""
    if not session_token or len(session_token) > 4096:
        return None
    key, now = _hash(session_token), time.monotonic()
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        found = _identity_of(
            frontend().to_session(x_session_token=session_token, _request_timeout=_TIMEOUT)
        )
    except (ApiException, OpenApiException, OSError, TransportError, ValueError):
        found = None
    if found is not None and not found.active:
        found = None
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[key] = (now + get_settings().ory_whoami_cache_seconds, found)
    return found


def forget_cached(session_token: str) -> None:
    with _cache_lock:
        _cache.pop(_hash(session_token), None)


# --- local users for Ory identities -----------------------------------------------------------


def _actor(user: User) -> Actor:
    return Actor(user_id=user.id, role=user.role, name=user.name, email=user.email)


UNVERIFIED_EMAIL_TAKEN = (
    "An account with this email already exists here. Verify your email address with your "
    "firm account (Ory), then sign in again: it will be linked to that account."
)
LINKED_ELSEWHERE = (
    "The account with this email here is linked to another firm identity: ask a manager."
)


def _link_existing(session: Session, user_id: int, identity: OryIdentity) -> User:
    """The local account with the identity's address, now keyed by the identity (audited).
    Only for an address Ory verified: an unverified one could be anyone's."""
    if not identity.email_verified:
        raise PermissionDenied(UNVERIFIED_EMAIL_TAKEN)
    user = session.get(User, user_id, with_for_update=True)
    if user is None:  # removed since it was looked up
        raise PermissionDenied(LINKED_ELSEWHERE)
    if user.identity_provider == IdentityProvider.ORY and user.external_id != identity.id:
        raise PermissionDenied(LINKED_ELSEWHERE)
    user.identity_provider = IdentityProvider.ORY
    user.external_id = identity.id
    audit.record(
        session,
        _actor(user),
        "user.linked_to_ory",
        "user",
        user.id,
        {"email": user.email, "ory_identity": identity.id, "email_verified": True},
    )
    return user


def local_user(identity: OryIdentity) -> Actor | None:
    """The local user keyed by the Ory identity id, created on first sight with no role (or
    CRM_SIGNUP_DEFAULT_ROLE), audited. An existing account with the same address is linked
    to the identity when Ory verified that address (audited), refused otherwise. None when
    that local user was deactivated."""
    with session_scope() as session:
        user = session.execute(
            select(User).where(
                col(User.identity_provider) == IdentityProvider.ORY,
                col(User.external_id) == identity.id,
            )
        ).scalar_one_or_none()
        if user is None:
            if not identity.email:
                raise InvalidInput("Your Ory identity has no email address.")
            taken = session.execute(
                select(col(User.id)).where(col(User.email) == identity.email)
            ).scalar_one_or_none()
            if taken is not None:
                user = _link_existing(session, taken, identity)
        if user is None:
            user = User(
                email=identity.email,
                name=identity.name,
                identity_provider=IdentityProvider.ORY,
                external_id=identity.id,
                role=get_settings().signup_default_role,
            )
            session.add(user)
            session.flush()
            audit.record(
                session,
                None,
                "user.created_from_ory",
                "user",
                user.id,
                {"email": user.email, "role": user.role},
            )
        if not user.is_active:
            return None
        return _actor(user)


def actor_for_request(session_token: str | None) -> Actor | None:
    """For the REST API: the local user behind an `X-Session-Token` (native apps)."""
    identity = whoami(session_token or "")
    return local_user(identity) if identity is not None else None


# --- local browser sessions linked to Kratos sessions ----------------------------------------


@dataclass(frozen=True)
class SignedIn:
    token: str  # the local session cookie's value
    actor: Actor


def _open_local_session(actor: Actor, ory_token: str) -> SignedIn:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    assert actor.user_id is not None
    with session_scope() as session:
        row = UserSession(
            token_hash=_hash(token),
            user_id=actor.user_id,
            expires_at=now + timedelta(hours=get_settings().session_hours),
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        session.add(
            OrySessionLink(user_session_id=row.id, ory_session_token=encrypt_secret(ory_token))
        )
        user = session.get(User, actor.user_id)
        if user is not None:
            user.last_login_at = now
        audit.record(session, actor, "user.login", "user", actor.user_id, {"via": "ory"})
    return SignedIn(token, actor)


def _linked_token(session_id: int) -> str | None:
    with session_scope() as session:
        link = session.get(OrySessionLink, session_id)
        return decrypt_secret(link.ory_session_token) if link else None


def still_valid(found: web_sessions.WebSession | None) -> web_sessions.WebSession | None:
    """A local session as it stands once Ory has been asked: built-in sessions pass as they
    are; one opened by an Ory sign-in whose Kratos session or identity is gone is revoked."""
    if found is None or not enabled():
        return found
    ory_token = _linked_token(found.session_id)
    if ory_token is None:
        return found
    if whoami(ory_token) is None:
        web_sessions.revoke(found.session_id)
        return None
    return found


def _session_of(result: Any) -> tuple[str, OryIdentity]:
    token = getattr(result, "session_token", None)
    identity = _identity_of(getattr(result, "session", None))
    if not token or identity is None:
        raise ServiceError("Ory did not open a session. Try signing in.")
    if not identity.active:
        raise PermissionDenied("This account is disabled.")
    return token, identity


def _messages(error: ApiException) -> str:
    """The first message Kratos put in a refused flow's UI, or a generic one."""
    import json

    try:
        body = json.loads(error.body or "{}")
    except ValueError:
        return ""
    ui = body.get("ui") or {}
    texts = [m.get("text", "") for m in ui.get("messages") or []]
    for node in ui.get("nodes") or []:
        texts.extend(m.get("text", "") for m in node.get("messages") or [])
    if body.get("error"):
        texts.append(body["error"].get("reason") or body["error"].get("message") or "")
    return next((t for t in texts if t), "")


def sign_in(email: str, password: str) -> SignedIn:
    """Kratos native login with email and password; opens a linked local session."""
    api = frontend()
    try:
        flow = api.create_native_login_flow(_request_timeout=_TIMEOUT)
        result = api.update_login_flow(
            str(flow.id),
            ory_client.UpdateLoginFlowBody(
                ory_client.UpdateLoginFlowWithPasswordMethod(
                    method="password",
                    identifier=(email or "").strip()[:320],
                    password=(password or "")[:1024],
                )
            ),
            _request_timeout=_TIMEOUT,
        )
    except ApiException as error:
        if error.status in (400, 401, 403, 422):
            raise InvalidInput(WRONG_CREDENTIALS) from None
        raise ServiceError("Ory could not be reached. Try again in a moment.") from None
    except (OpenApiException, OSError, TransportError):
        raise ServiceError("Ory could not be reached. Try again in a moment.") from None
    token, identity = _session_of(result)
    actor = local_user(identity)
    if actor is None:
        raise PermissionDenied("This account is disabled.")
    return _open_local_session(actor, token)


def register(email: str, name: str, password: str) -> SignedIn:
    """Kratos native registration (traits: email, name); signs in right after."""
    api = frontend()
    email = (email or "").strip().lower()[:320]
    try:
        flow = api.create_native_registration_flow(_request_timeout=_TIMEOUT)
        result = api.update_registration_flow(
            str(flow.id),
            ory_client.UpdateRegistrationFlowBody(
                ory_client.UpdateRegistrationFlowWithPasswordMethod(
                    method="password",
                    password=(password or "")[:1024],
                    traits={"email": email, "name": " ".join((name or "").split())[:200]},
                )
            ),
            _request_timeout=_TIMEOUT,
        )
    except ApiException as error:
        if error.status in (400, 409, 422):
            raise InvalidInput(_messages(error) or "Ory refused the registration.") from None
        raise ServiceError("Ory could not be reached. Try again in a moment.") from None
    except (OpenApiException, OSError, TransportError):
        raise ServiceError("Ory could not be reached. Try again in a moment.") from None
    if getattr(result, "session_token", None):
        token, identity = _session_of(result)
        actor = local_user(identity)
        if actor is None:
            raise PermissionDenied("This account is disabled.")
        return _open_local_session(actor, token)
    return sign_in(email, password)


def start_recovery(email: str) -> str:
    """Kratos native recovery by code: asks Ory to mail a code; returns the flow id to finish
    with. Says the same whether or not the address is known."""
    api = frontend()
    try:
        flow = api.create_native_recovery_flow(_request_timeout=_TIMEOUT)
        api.update_recovery_flow(
            str(flow.id),
            ory_client.UpdateRecoveryFlowBody(
                ory_client.UpdateRecoveryFlowWithCodeMethod(
                    method="code", email=(email or "").strip()[:320]
                )
            ),
            _request_timeout=_TIMEOUT,
        )
    except ApiException as error:
        if error.status in (400, 422):
            raise InvalidInput(_messages(error) or "Enter a valid email address.") from None
        raise ServiceError("Ory could not be reached. Try again in a moment.") from None
    except (OpenApiException, OSError, TransportError):
        raise ServiceError("Ory could not be reached. Try again in a moment.") from None
    return str(flow.id)


def finish_recovery(flow_id: str, code: str, new_password: str) -> SignedIn:
    """Check the recovery code (Kratos hands back a session), set the new password through a
    native settings flow, and sign in."""
    api = frontend()
    try:
        result = api.update_recovery_flow(
            (flow_id or "")[:100],
            ory_client.UpdateRecoveryFlowBody(
                ory_client.UpdateRecoveryFlowWithCodeMethod(
                    method="code", code=(code or "").strip()[:64]
                )
            ),
            _request_timeout=_TIMEOUT,
        )
        token = next(
            (
                getattr(item.actual_instance, "ory_session_token", None)
                for item in result.continue_with or []
                if getattr(item.actual_instance, "action", "") == "set_ory_session_token"
            ),
            None,
        )
        if not token:
            raise InvalidInput("That code is wrong or has expired.")
        settings_flow = api.create_native_settings_flow(
            x_session_token=token, _request_timeout=_TIMEOUT
        )
        api.update_settings_flow(
            str(settings_flow.id),
            ory_client.UpdateSettingsFlowBody(
                ory_client.UpdateSettingsFlowWithPasswordMethod(
                    method="password", password=(new_password or "")[:1024]
                )
            ),
            x_session_token=token,
            _request_timeout=_TIMEOUT,
        )
    except ApiException as error:
        if error.status in (400, 401, 403, 410, 422):
            raise InvalidInput(_messages(error) or "That code is wrong or has expired.") from None
        raise ServiceError("Ory could not be reached. Try again in a moment.") from None
    except (OpenApiException, OSError, TransportError):
        raise ServiceError("Ory could not be reached. Try again in a moment.") from None
    identity = whoami(token)
    if identity is None:
        raise NotAuthenticated("Ory did not open a session. Try signing in.")
    actor = local_user(identity)
    if actor is None:
        raise PermissionDenied("This account is disabled.")
    return _open_local_session(actor, token)


def sign_out(session_id: int) -> None:
    """End the Kratos session linked to a local one (the caller revokes the local session)."""
    if not enabled() or not session_id:
        return
    token = _linked_token(session_id)
    if token is None:
        return
    forget_cached(token)
    # The local session is revoked either way; Kratos ends its own at expiry if this fails.
    with contextlib.suppress(ApiException, OpenApiException, OSError):
        frontend().perform_native_logout(
            ory_client.PerformNativeLogoutBody(session_token=token), _request_timeout=_TIMEOUT
        )
