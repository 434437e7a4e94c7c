"""The one permission helper. Every service action starts with `require(actor, Action.X)`.

Roles map to the actions they may take; a user with no role may take none.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from crm_app.services.errors import NotAuthenticated, PermissionDenied
from models.user import Role


class Action(StrEnum):
    VIEW_TICKETS = "view_tickets"  # the staff queue: every ticket
    EDIT_TICKETS = "edit_tickets"  # create, reply, internal notes, status
    VIEW_CLIENTS = "view_clients"
    EDIT_CLIENTS = "edit_clients"
    VIEW_CLIENT_FINANCES = "view_client_finances"  # net worth and other money fields
    MANAGE_USERS = "manage_users"  # list users, assign roles
    MANAGE_SLA = "manage_sla"
    VIEW_DASHBOARDS = "view_dashboards"
    MANAGE_CAMPAIGNS = "manage_campaigns"
    USE_PORTAL = "use_portal"  # a client's own tickets only
    VIEW_AUDIT_LOG = "view_audit_log"
    VIEW_SEGMENTS = "view_segments"  # see segments and who is in them
    EDIT_SEGMENTS = "edit_segments"  # build and save segments
    MANAGE_CLIENT_FIELDS = "manage_client_fields"  # define custom client fields
    MANAGE_CLIENT_PRIVACY = "manage_client_privacy"  # data export, erasure, legal hold
    MANAGE_AI = "manage_ai"  # LLM settings; confidential (managers-only) retrieval sources
    MANAGE_CURRENCY_RATES = "manage_currency_rates"  # reporting currency and exchange rates
    MANAGE_FAQ = "manage_faq"  # write, publish and unpublish help centre entries
    MANAGE_MAILBOXES = "manage_mailboxes"  # IMAP/SMTP accounts, their tests and failed imports
    MANAGE_INTEGRATIONS = "manage_integrations"  # webhooks out
    MANAGE_TEAMS = "manage_teams"  # teams of staff the dashboards filter by


_STAFF_TICKETS = {
    Action.VIEW_TICKETS,
    Action.EDIT_TICKETS,
    Action.VIEW_CLIENTS,
    Action.EDIT_CLIENTS,
    Action.VIEW_CLIENT_FINANCES,
}

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.MANAGER: frozenset(set(Action) - {Action.USE_PORTAL}),
    Role.AGENT: frozenset(_STAFF_TICKETS | {Action.VIEW_SEGMENTS}),
    Role.MARKETING: frozenset(
        {Action.VIEW_CLIENTS, Action.MANAGE_CAMPAIGNS, Action.VIEW_SEGMENTS, Action.EDIT_SEGMENTS}
    ),
    Role.CLIENT: frozenset({Action.USE_PORTAL}),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, or a background job acting for the system."""

    user_id: int | None
    role: str | None
    name: str = ""
    email: str = ""

    @property
    def is_system(self) -> bool:
        return self.user_id is None and self.role == "system"


SYSTEM = Actor(user_id=None, role="system", name="System")


def can(actor: Actor | None, action: Action) -> bool:
    if actor is None:
        return False
    if actor.is_system:
        return True
    return action in ROLE_ACTIONS.get(actor.role or "", frozenset())


def require(actor: Actor | None, action: Action) -> Actor:
    """Raise unless `actor` may take `action`; returns the actor for chaining."""
    if actor is None:
        raise NotAuthenticated("Please sign in.")
    if not can(actor, action):
        if not actor.role:
            raise PermissionDenied("Your account has no role yet: a manager must assign one.")
        raise PermissionDenied(f"A {actor.role} may not {action.value.replace('_', ' ')}.")
    return actor
