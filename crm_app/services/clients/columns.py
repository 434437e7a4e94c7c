"""The client list's columns, chosen per user: which fields a row shows (the profile has the
rest); finance columns only for those who may see client finances."""

from __future__ import annotations

from typing import Any

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.client_fields import may_see_finances
from crm_app.services.errors import InvalidInput
from models.base import utcnow
from models.client import ClientListLayout

# Column key -> (label, a finance column). The name is always shown; the rest is in the profile.
LIST_COLUMNS: dict[str, tuple[str, bool]] = {
    "email": ("Email", False),
    "phone": ("Phone", False),
    "kind": ("Type", False),
    "country": ("Country", False),
    "region": ("Region", False),
    "risk_category": ("Risk", False),
    "tags": ("Tags", False),
    "owner_name": ("Manager", False),
    "created_at": ("Created", False),
    "net_worth": ("Net worth", True),
    "aum": ("AUM", True),
    "kyc_status": ("KYC", True),
}
# Fits a 1280 px screen beside the sidebar.
DEFAULT_LIST_COLUMNS = ("email", "phone", "risk_category", "owner_name", "net_worth")
MAX_LIST_COLUMNS = 8


def _allowed_columns(actor: Actor) -> list[str]:
    show = may_see_finances(actor)
    return [key for key, (_, finance) in LIST_COLUMNS.items() if show or not finance]


def list_columns(actor: Actor) -> list[str]:
    """The columns `actor` chose for the client list (the default until they choose)."""
    require(actor, Action.VIEW_CLIENTS)
    allowed = _allowed_columns(actor)
    with session_scope() as session:
        layout = session.get(ClientListLayout, actor.user_id) if actor.user_id else None
        chosen = list(layout.columns) if layout else list(DEFAULT_LIST_COLUMNS)
    return [key for key in chosen if key in allowed]


def save_list_columns(actor: Actor, columns: Any) -> list[str]:
    """Remember the columns `actor` wants on the client list, in the list's order."""
    require(actor, Action.VIEW_CLIENTS)
    if actor.user_id is None:
        raise InvalidInput("Only a signed-in user has a column choice.")
    if not isinstance(columns, list | tuple) or not all(isinstance(c, str) for c in columns):
        raise InvalidInput("Choose columns from the list.")
    allowed = _allowed_columns(actor)
    unknown = set(columns) - set(allowed)
    if unknown:
        raise InvalidInput(f"Unknown column {sorted(unknown)[0][:40]!r}.")
    chosen = [key for key in allowed if key in columns]
    if len(chosen) > MAX_LIST_COLUMNS:
        raise InvalidInput(f"Show at most {MAX_LIST_COLUMNS} columns; the profile has the rest.")
    with session_scope() as session:
        layout = session.get(ClientListLayout, actor.user_id)
        before = list(layout.columns) if layout else None
        if layout is None:
            layout = ClientListLayout(user_id=actor.user_id, columns=chosen)
            session.add(layout)
        layout.columns, layout.updated_at = chosen, utcnow()
        audit.record(
            session,
            actor,
            "client_list.columns_chosen",
            "user",
            actor.user_id,
            {"columns": [before, chosen]},
        )
    return chosen
