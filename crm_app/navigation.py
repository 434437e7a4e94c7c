"""The sidebar, in one list: each entry's route, label, icon, section, and the action a user
must be allowed (by `ROLE_ACTIONS`) to see it. A user's landing page is the first entry they
may see. Adding a page to the sidebar is one line here."""

from __future__ import annotations

from dataclasses import dataclass

from crm_app import routes
from crm_app.auth.permissions import Action, Actor, can
from crm_app.settings import get_settings


@dataclass(frozen=True)
class NavEntry:
    route: str
    label: str
    icon: str  # a lucide icon name
    action: Action  # shown to those who may take it
    section: str


def _local_mail() -> tuple[NavEntry, ...]:
    """ "Sent mail (local)" only while the local SMTP sink is what the product sends to."""
    if get_settings().mail_sink_dir is None:
        return ()
    return (
        NavEntry(routes.SENT_MAIL, "Sent mail (local)", "mail", Action.VIEW_AUDIT_LOG, "Settings"),
    )


NAV: tuple[NavEntry, ...] = (
    NavEntry(routes.TICKETS, "Tickets", "inbox", Action.VIEW_TICKETS, "Helpdesk"),
    NavEntry(
        routes.WORKSPACE,
        "Macros & assignment",
        "message-square-text",
        Action.VIEW_TICKETS,
        "Helpdesk",
    ),
    NavEntry(routes.KNOWLEDGE, "Knowledge", "book-open", Action.VIEW_TICKETS, "Helpdesk"),
    NavEntry(routes.MY_WORK, "My work", "list-checks", Action.VIEW_TICKETS, "Helpdesk"),
    NavEntry(routes.SLA_BOARD, "SLA warnings", "siren", Action.VIEW_DASHBOARDS, "Helpdesk"),
    NavEntry(routes.DASHBOARD, "Dashboard", "chart-column", Action.VIEW_DASHBOARDS, "Helpdesk"),
    NavEntry(routes.CLIENTS, "Clients", "users", Action.VIEW_CLIENTS, "Clients"),
    NavEntry(routes.SEGMENTS, "Segments", "filter", Action.VIEW_SEGMENTS, "Clients"),
    NavEntry(routes.CAMPAIGNS, "Campaigns", "megaphone", Action.MANAGE_CAMPAIGNS, "Clients"),
    NavEntry(routes.USERS, "Users & roles", "shield-check", Action.MANAGE_USERS, "Settings"),
    NavEntry(routes.AI_SETTINGS, "AI settings", "sparkles", Action.MANAGE_AI, "Settings"),
    NavEntry(routes.FAQ_ADMIN, "Help centre FAQ", "book-open", Action.MANAGE_FAQ, "Settings"),
    *_local_mail(),
    NavEntry(routes.MAILBOXES, "Mailboxes", "mail", Action.MANAGE_MAILBOXES, "Settings"),
    NavEntry(
        routes.CHANNELS, "Chat & WhatsApp", "message-circle", Action.MANAGE_INTEGRATIONS, "Settings"
    ),
    NavEntry(routes.ARCHIVES, "Archives", "archive", Action.MANAGE_AI, "Settings"),
    NavEntry(routes.SLA_SETTINGS, "SLA settings", "timer", Action.MANAGE_SLA, "Settings"),
    NavEntry(routes.TEAMS, "Teams", "users-round", Action.MANAGE_TEAMS, "Settings"),
    NavEntry(routes.PORTAL, "My tickets", "life-buoy", Action.USE_PORTAL, "Portal"),
)


def sections() -> list[tuple[str, list[NavEntry]]]:
    """The entries grouped by section, in the registry's order."""
    grouped: dict[str, list[NavEntry]] = {}
    for entry in NAV:
        grouped.setdefault(entry.section, []).append(entry)
    return list(grouped.items())


def home_for(actor: Actor) -> str:
    """Where `actor` lands after signing in: the first page of the sidebar they may open
    (a client's portal), or the waiting page for an account with no role yet."""
    if not actor.role:
        return routes.WAITING
    return next((entry.route for entry in NAV if can(actor, entry.action)), routes.WAITING)
