"""The session cookie: its name, how it is read from a request's headers and how it is set.

Framework-free, shared by the HTTP endpoints that set it and the event middleware that reads it.
"""

from __future__ import annotations

from starlette.requests import cookie_parser

from crm_app.settings import get_settings

SESSION_COOKIE = "crm_session"
# Cookies the app sets HttpOnly: never stored with page state, never visible to page scripts.
PRIVATE_COOKIES = frozenset({SESSION_COOKIE, "crm_device"})


def read_cookie(cookie_header: str, name: str) -> str:
    """One cookie's value from a `Cookie:` header, parsed as browsers write it (one odd cookie
    beside it does not hide it). "" when absent, or when the header carries it twice: a second
    copy is what a cookie set from a sibling domain looks like, and neither can be trusted."""
    if not cookie_header:
        return ""
    values = [
        value
        for key, value in (
            part.strip().split("=", 1) for part in cookie_header.split(";") if "=" in part
        )
        if key.strip() == name
    ]
    if len(values) != 1:
        return ""
    return cookie_parser(f"{name}={values[0].strip()}").get(name, "")


def without_private_cookies(cookie_header: str) -> str:
    """The `Cookie:` header less the app's HttpOnly cookies, for anything that gets stored."""
    kept = []
    for part in cookie_header.split(";"):
        name = part.split("=", 1)[0].strip()
        if name and name not in PRIVATE_COOKIES:
            kept.append(part.strip())
    return "; ".join(kept)


def cookie_attributes(secure_request: bool) -> dict:
    """Keyword arguments for Starlette's `set_cookie` for the session cookie."""
    settings = get_settings()
    secure = settings.cookie_secure if settings.cookie_secure is not None else secure_request
    return {
        "key": SESSION_COOKIE,
        "max_age": settings.session_hours * 3600,
        "path": "/",
        "httponly": True,
        "secure": secure,
        "samesite": "lax",
    }
