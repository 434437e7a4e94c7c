"""Ory Kratos sign-in (when `ORY_SDK_URL` is set). Filled in by the Ory step; until then Ory
is off and nothing here is called."""

from __future__ import annotations

from crm_app.auth.permissions import Actor


def enabled() -> bool:
    return False


def actor_for_request(session_token: str | None, cookie_header: str) -> Actor | None:
    return None
