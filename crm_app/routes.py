"""Every route in one place: constants for pages, builders for links. No route is typed twice."""

from __future__ import annotations

from typing import Any

HOME = "/"
SETUP = "/setup"
LOGIN = "/login"
SIGNUP = "/signup"
WAITING = "/waiting"
TICKETS = "/tickets"
TICKET = "/tickets/[number]"
WORKSPACE = "/workspace"
CLIENTS = "/clients"
CLIENT = "/clients/[client_id]"
CLIENT_IMPORT = "/import/clients"
CLIENT_DUPLICATES = "/duplicates/clients"
CLIENT_FIELDS = "/settings/client-fields"
CURRENCY_RATES = "/settings/currency-rates"
SEGMENTS = "/segments"
USERS = "/users"
AI_SETTINGS = "/settings/ai"
SLA_SETTINGS = "/settings/sla"
DASHBOARD = "/dashboard"
SLA_BOARD = "/sla-board"
MY_WORK = "/my-work"
PORTAL = "/portal"
API_AUTH_LOGIN = "/api/auth/login"
API_AUTH_SETUP = "/api/auth/setup"
API_AUTH_LOGOUT = "/api/auth/logout"
PROFILE = "/profile"
API_ATTACHMENT = "/api/attachments/{attachment_id}"


def _under(prefix: str, key: Any) -> Any:
    """`prefix` + `key`: a string for a plain value, a Reflex Var for a Var (a link in a
    `foreach` row), so no page builds a route by hand."""
    if isinstance(key, (int, str)):
        return f"{prefix}{key}"
    from reflex.vars import StringVar  # only components pass Vars; services never get here

    return prefix + (key if isinstance(key, StringVar) else key.to_string())


def ticket(number: Any) -> Any:
    """`/tickets/<number>` for an int, a string or a Reflex Var."""
    return _under("/tickets/", number)


def client(client_id: Any) -> Any:
    return _under("/clients/", client_id)


def attachment(attachment_id: int | str) -> str:
    return API_ATTACHMENT.format(attachment_id=attachment_id)
