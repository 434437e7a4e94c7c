"""Every route in one place: constants for pages, builders for links. No route is typed twice."""

from __future__ import annotations

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
PORTAL = "/portal"
API_AUTH_LOGIN = "/api/auth/login"
API_AUTH_SETUP = "/api/auth/setup"
API_AUTH_LOGOUT = "/api/auth/logout"
PROFILE = "/profile"
API_ATTACHMENT = "/api/attachments/{attachment_id}"


def ticket(number: int | str) -> str:
    return f"/tickets/{number}"


def client(client_id: int | str) -> str:
    return f"/clients/{client_id}"


def attachment(attachment_id: int | str) -> str:
    return API_ATTACHMENT.format(attachment_id=attachment_id)
