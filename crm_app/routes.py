"""Every route in one place: constants for pages, builders for links. No route is typed twice."""

from __future__ import annotations

HOME = "/"
SETUP = "/setup"
LOGIN = "/login"
SIGNUP = "/signup"
WAITING = "/waiting"
TICKETS = "/tickets"
TICKET = "/tickets/[number]"
CLIENTS = "/clients"
CLIENT = "/clients/[client_id]"
SEGMENTS = "/segments"
USERS = "/users"
PORTAL = "/portal"
PORTAL_TICKET = "/portal/tickets/[number]"


def ticket(number: int | str) -> str:
    return f"/tickets/{number}"


def portal_ticket(number: int | str) -> str:
    return f"/portal/tickets/{number}"


def client(client_id: int | str) -> str:
    return f"/clients/{client_id}"
