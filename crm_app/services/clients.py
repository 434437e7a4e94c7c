"""Clients: create and list (the full client database is its own issue)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, or_, select

from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput
from crm_app.services.pagination import Page
from models.client import Client, RiskCategory


@dataclass(frozen=True)
class ClientRow:
    id: int
    name: str
    email: str
    phone: str
    region: str
    risk_category: str
    # Empty when the viewer may not see client finances.
    net_worth: str


def _row(client: Client, show_finances: bool) -> ClientRow:
    assert client.id is not None
    net_worth = ""
    if show_finances and client.net_worth is not None:
        net_worth = f"{client.currency} {client.net_worth:,.2f}"
    return ClientRow(
        id=client.id,
        name=client.name,
        email=client.email or "",
        phone=client.phone or "",
        region=client.region or "",
        risk_category=client.risk_category,
        net_worth=net_worth,
    )


def _parse_money(value: str | Decimal | None) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise InvalidInput("Net worth must be a number, e.g. 2500000.00") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e16"):
        raise InvalidInput("Net worth must be a positive amount below 10^16.")
    return amount.quantize(Decimal("0.01"))


def create_client(
    actor: Actor,
    *,
    name: str,
    email: str = "",
    phone: str = "",
    region: str = "",
    risk_category: str = RiskCategory.MODERATE,
    net_worth: str | Decimal | None = None,
    owner_agent_id: int | None = None,
) -> ClientRow:
    require(actor, Action.EDIT_CLIENTS)
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise InvalidInput("A client needs a name (up to 200 characters).")
    if risk_category not in {r.value for r in RiskCategory}:
        raise InvalidInput("Risk category must be conservative, moderate or aggressive.")
    email = (email or "").strip().lower()
    if email and ("@" not in email or len(email) > 320):
        raise InvalidInput("Enter a valid client email address.")
    client = Client(
        name=name,
        email=email or None,
        phone=(phone or "").strip()[:40] or None,
        region=(region or "").strip()[:100] or None,
        risk_category=risk_category,
        net_worth=_parse_money(net_worth),
        owner_agent_id=owner_agent_id or actor.user_id,
    )
    with session_scope() as session:
        session.add(client)
        session.flush()
        audit.record(session, actor, "client.created", "client", client.id, {"name": [None, name]})
        return _row(client, can(actor, Action.VIEW_CLIENT_FINANCES))


def list_clients(actor: Actor, *, search: str = "", page: int = 1, page_size: int = 25) -> Page:
    require(actor, Action.VIEW_CLIENTS)
    page, page_size = max(page, 1), min(max(page_size, 1), 100)
    query = select(Client)
    if search.strip():
        term = f"%{search.strip()}%"
        query = query.where(or_(Client.name.ilike(term), Client.email.ilike(term)))
    with session_scope() as session:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        clients = session.execute(
            query.order_by(Client.name, Client.id).offset((page - 1) * page_size).limit(page_size)
        ).scalars()
        show = can(actor, Action.VIEW_CLIENT_FINANCES)
        return Page(items=[_row(c, show) for c in clients], total=total, page=page,
                    page_size=page_size)


def client_choices(actor: Actor, search: str = "", limit: int = 50) -> list[tuple[int, str]]:
    """(id, label) pairs for pickers."""
    require(actor, Action.VIEW_CLIENTS)
    query = select(Client.id, Client.name, Client.email).order_by(Client.name).limit(limit)
    if search.strip():
        query = query.where(Client.name.ilike(f"%{search.strip()}%"))
    with session_scope() as session:
        return [
            (cid, f"{name} <{email}>" if email else name)
            for cid, name, email in session.execute(query)
        ]
