"""Who is calling `/api/v1`: a personal access token, the browser's session cookie, or an Ory
session (when Ory is configured). Every route takes `Caller` and passes its actor to the same
service the pages call; the services check permission.

- `Authorization: Bearer crm_pat_…`: the token's owner, with the owner's current role; a read
  token may only use GET.
- The `crm_session` cookie: the signed-in browser. Cross-site state-changing requests never get
  here: the security middleware refuses a foreign `Origin`, and the cookie is SameSite=Lax.
- Ory: the `X-Session-Token` header of a native app, or the app's Ory session cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from crm_app.auth import ory
from crm_app.auth.cookies import SESSION_COOKIE
from crm_app.auth.permissions import Actor
from crm_app.services import api_tokens, web_sessions
from crm_app.services.errors import NotAuthenticated, PermissionDenied

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A personal access token from your profile page (or `create-token`).",
)
session_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description="The browser's session cookie (same-origin calls from the app's own pages).",
)
ory_scheme = APIKeyHeader(
    name="X-Session-Token",
    auto_error=False,
    scheme_name="ory",
    description="An Ory Kratos session token (when Ory is configured).",
)


@dataclass(frozen=True)
class Caller:
    actor: Actor
    authenticated_by: str  # token, session or ory
    token_scope: str | None = None


def caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    session_token: Annotated[str | None, Depends(session_scheme)],
    ory_token: Annotated[str | None, Depends(ory_scheme)],
) -> Caller:
    """The authenticated caller, or 401. Side effect: a token's last use is noted."""
    if bearer is not None:
        auth = api_tokens.authenticate(bearer.credentials)
        if auth is None:
            raise NotAuthenticated("That API token is unknown, expired or revoked.")
        if request.method not in _SAFE_METHODS and not auth.may_write:
            raise PermissionDenied("This token may only read: create a write token to change.")
        return Caller(auth.actor, "token", auth.scope)
    if session_token:
        found = ory.still_valid(web_sessions.session_for_token(session_token))
        if found is not None:
            return Caller(found.actor, "session")
    if ory.enabled():
        actor = ory.actor_for_request(ory_token)
        if actor is not None:
            return Caller(actor, "ory")
    raise NotAuthenticated("Send an API token (Authorization: Bearer …) or sign in.")
