"""Reading clients: the searchable list, the profile, notes, tickets and the record's history.

Marketing reads clients but never their net worth, assets under management or KYC fields:
every function here that returns client data blanks them unless the actor may
`VIEW_CLIENT_FINANCES`, and refuses filters or sorting on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import get_engine, session_scope
from crm_app.services.client_fields import (
    FIELDS,
    RESTRICTED_FIELDS,
    custom_field_definitions,
    may_see_finances,
    parse_bool,
)
from crm_app.services.currency_rates import converted, reporting_currency
from crm_app.services.errors import InvalidInput, NotFound, PermissionDenied
from crm_app.services.pagination import Page
from crm_app.services.segments import compile_rules, live_clients_clause
from models.audit import AuditLog
from models.client import Client, ClientKind, ClientNote
from models.ticket import Ticket
from models.user import User

MAX_NOTE = 20_000
WORD_SIMILARITY = 0.5
SORTS = tuple(key for key, spec in FIELDS.items() if spec.sortable)
# Fields a person edits on the profile, in the order the form shows them.
EDITABLE = (
    "kind",
    "name",
    "email",
    "other_emails",
    "phone",
    "other_phones",
    "country",
    "region",
    "risk_category",
    "net_worth",
    "aum",
    "currency",
    "kyc_status",
    "kyc_review_due",
    "owner_agent_id",
    "tags",
    "marketing_consent",
    "marketing_consent_source",
    "portal_user_id",
)


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
    kind: str = ClientKind.INDIVIDUAL.value
    country: str = ""
    aum: str = ""
    kyc_status: str = ""
    owner_name: str = ""
    tags: str = ""
    created_at: str = ""
    # What the save accepted but wants a human to look at (an unassigned phone range).
    warnings: tuple[str, ...] = ()
    # The amounts in the reporting currency, as money filters and sorting compare them.
    net_worth_converted: str = ""
    aum_converted: str = ""
    # False for a client made from an incoming message, until an agent confirms or merges it.
    verified: bool = True


@dataclass(frozen=True)
class ClientDetail:
    """One client as the profile shows and edits it; values are strings ready for a form."""

    id: int
    kind: str
    name: str
    email: str
    other_emails: str
    phone: str
    other_phones: str
    country: str
    region: str
    risk_category: str
    net_worth: str
    aum: str
    currency: str
    kyc_status: str
    kyc_review_due: str
    owner_agent_id: str
    owner_name: str
    tags: list[str]
    custom_fields: dict[str, str]
    marketing_consent: bool
    marketing_consent_at: str
    marketing_consent_source: str
    portal_user_id: str
    portal_user_email: str
    legal_hold: bool
    legal_hold_reason: str
    erased: bool
    deleted: bool
    merged_into_id: int
    created_at: str
    updated_at: str
    finances_visible: bool
    warnings: tuple[str, ...] = ()
    net_worth_converted: str = ""
    aum_converted: str = ""
    verified: bool = True


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    who: str
    action: str
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (field, before, after)


@dataclass(frozen=True)
class NoteRow:
    id: int
    author: str
    body: str
    created_at: str


def fmt_time(moment: datetime | None) -> str:
    """A time for the page: ISO 8601 in UTC ("" for none), shown relative and in the reader's
    zone by `crm_app.timefmt.when`."""
    return moment.astimezone(UTC).isoformat() if moment else ""


def _money(client: Client, amount: Decimal | None) -> str:
    return f"{client.currency} {amount:,.2f}" if amount is not None else ""


def _converted(
    client: Client, amount: Decimal | None, converted_amount: Decimal | None, reporting: str
) -> str:
    if amount is None or not reporting or client.currency == reporting:
        return ""
    if converted_amount is None:
        return f"no {client.currency} rate"
    return converted(converted_amount, reporting)


def client_row(
    client: Client, show_finances: bool, owner_name: str | None = None, reporting: str = ""
) -> ClientRow:
    assert client.id is not None
    return ClientRow(
        id=client.id,
        name=client.name,
        email=client.email or "",
        phone=client.phone or "",
        region=client.region or "",
        risk_category=client.risk_category,
        net_worth=_money(client, client.net_worth) if show_finances else "",
        kind=client.kind,
        country=client.country or "",
        aum=_money(client, client.aum) if show_finances else "",
        kyc_status=client.kyc_status if show_finances else "",
        owner_name=owner_name or "",
        tags=", ".join(client.tags or []),
        created_at=client.created_at.strftime("%Y-%m-%d") if client.created_at else "",
        net_worth_converted=_converted(
            client, client.net_worth, client.net_worth_reporting, reporting
        )
        if show_finances
        else "",
        aum_converted=_converted(client, client.aum, client.aum_reporting, reporting)
        if show_finances
        else "",
        verified=client.verified,
    )


def plain(value: Any) -> Any:
    """A value as the audit log stores it (JSON)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list):
        return list(value)
    return value


# --- search and listing ------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _has_trigram(url: str) -> bool:
    with get_engine().connect() as conn:
        return bool(
            conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).scalar()
        )


def has_trigram_search() -> bool:
    """pg_trgm is in every stock PostgreSQL; an embedded build without it searches substrings."""
    return _has_trigram(str(get_engine().url))


def search_clause(search: str) -> tuple[ColumnElement | None, ColumnElement | None]:
    """(WHERE, relevance) for a fuzzy search over name, email and phone."""
    term = " ".join((search or "").split())[:100]
    if not term:
        return None, None
    parts: list[ColumnElement] = [
        col(Client.name).icontains(term, autoescape=True),
        col(Client.email).icontains(term, autoescape=True),
    ]
    digits = re.sub(r"\D", "", term)
    if len(digits) >= 3:
        parts.append(col(Client.phone).contains(digits, autoescape=True))
    relevance = None
    if has_trigram_search() and len(term) >= 3:
        # `term <% name`: some word run of the name is similar to the term (typos, order).
        parts.append(col(Client.name).op("%>")(term))
        relevance = func.word_similarity(term, Client.name)
    return or_(*parts), relevance


def filters_to_rules(filters: dict[str, Any] | None) -> dict[str, Any]:
    """The list page's filter panel as a rule group, so it compiles through the same whitelist.

    Keys: `<field>` for equality, `<field>__min` / `__max` for ranges, `<field>__from` /
    `__to` for dates, `tag` for a tag.
    """
    rules: list[dict[str, Any]] = []
    for key, value in (filters or {}).items():
        if value in (None, "", []):
            continue
        name, _, bound = key.partition("__")
        if name == "tag":
            rules.append({"field": "tags", "operator": "has", "value": value})
        elif bound in ("min", "from"):
            rules.append(
                {"field": name, "operator": "gte" if bound == "min" else "after_eq", "value": value}
            )
        elif bound in ("max", "to"):
            rules.append(
                {
                    "field": name,
                    "operator": "lte" if bound == "max" else "before_eq",
                    "value": value,
                }
            )
        elif name in ("marketing_consent", "legal_hold", "has_open_ticket", "verified"):
            rules.append(
                {"field": name, "operator": "is_true" if parse_bool(value, name) else "is_false"}
            )
        elif name == "owner_agent_id":
            rules.append({"field": name, "operator": "eq", "value": value})
        elif FIELDS.get(name) and FIELDS[name].kind == "text":
            rules.append({"field": name, "operator": "contains", "value": value})
        else:
            rules.append({"field": name, "operator": "eq", "value": value})
    # Inclusive date bounds: between the day given and itself.
    for rule in rules:
        if rule["operator"] == "after_eq":
            rule["operator"], rule["value"] = "between", [rule["value"], "9999-12-31"]
        elif rule["operator"] == "before_eq":
            rule["operator"], rule["value"] = "between", ["0001-01-01", rule["value"]]
    return {"op": "and", "rules": rules}


def client_list_query(
    session: Session,
    actor: Actor,
    *,
    search: str = "",
    filters: dict[str, Any] | None = None,
    rules: dict[str, Any] | None = None,
):
    """(SELECT client rows, relevance) for the list, an export or a segment, as `actor` sees it."""
    show = may_see_finances(actor)
    definitions = custom_field_definitions(session)
    query = select(Client).where(live_clients_clause())
    for tree in (filters_to_rules(filters), rules):
        if tree:
            query = query.where(compile_rules(tree, definitions, show_finances=show))
    where, relevance = search_clause(search)
    if where is not None:
        query = query.where(where)
    if relevance is not None:
        # The default (0.6) misses one-letter typos in short names ("Margret").
        session.execute(text(f"SET LOCAL pg_trgm.word_similarity_threshold = {WORD_SIMILARITY}"))
    return query, relevance


def list_clients(
    actor: Actor,
    *,
    search: str = "",
    page: int = 1,
    page_size: int = 25,
    filters: dict[str, Any] | None = None,
    rules: dict[str, Any] | None = None,
    sort: str = "",
    descending: bool = False,
) -> Page:
    """One page of clients, searched, filtered and sorted in SQL."""
    require(actor, Action.VIEW_CLIENTS)
    page, page_size = max(int(page), 1), min(max(int(page_size), 1), 100)
    if sort and sort not in SORTS:
        raise InvalidInput("That column cannot be sorted.")
    if sort in RESTRICTED_FIELDS and not may_see_finances(actor):
        raise PermissionDenied("You may not sort clients by finance fields.")
    with session_scope() as session:
        query, relevance = client_list_query(
            session, actor, search=search, filters=filters, rules=rules
        )
        total: int = session.execute(
            select(func.count()).select_from(query.subquery())
        ).scalar_one()
        if sort:
            column = getattr(Client, FIELDS[sort].column or sort)
            order = [column.desc().nulls_last() if descending else column.asc().nulls_last()]
        elif relevance is not None:
            order = [relevance.desc()]
        else:
            order = [Client.name]
        listed = (
            session.execute(
                query.add_columns(User.name)
                .outerjoin(User, User.id == Client.owner_agent_id)
                .order_by(*order, Client.id)
                .offset((page - 1) * page_size)
                .limit(page_size)
            )
            .tuples()
            .all()
        )
        show, reporting = may_see_finances(actor), reporting_currency(session)
        return Page(
            items=[client_row(c, show, owner, reporting) for c, owner in listed],
            total=total,
            page=page,
            page_size=page_size,
        )


# --- one client --------------------------------------------------------------------------------


def load_client(session: Session, client_id: int, *, allow_deleted: bool = False) -> Client:
    client = session.get(Client, client_id) if isinstance(client_id, int) else None
    if client is None or (client.deleted_at is not None and not allow_deleted):
        raise NotFound("That client does not exist.")
    return client


def client_detail(session: Session, client: Client, actor: Actor) -> ClientDetail:
    assert client.id is not None
    show, reporting = may_see_finances(actor), reporting_currency(session)
    owner = session.get(User, client.owner_agent_id) if client.owner_agent_id else None
    portal = session.get(User, client.portal_user_id) if client.portal_user_id else None
    return ClientDetail(
        id=client.id,
        kind=client.kind,
        name=client.name,
        email=client.email or "",
        other_emails=", ".join(client.other_emails or []),
        phone=client.phone or "",
        other_phones=", ".join(client.other_phones or []),
        country=client.country or "",
        region=client.region or "",
        risk_category=client.risk_category,
        net_worth=str(client.net_worth) if show and client.net_worth is not None else "",
        aum=str(client.aum) if show and client.aum is not None else "",
        currency=client.currency,
        kyc_status=client.kyc_status if show else "",
        kyc_review_due=(
            client.kyc_review_due.isoformat() if show and client.kyc_review_due else ""
        ),
        owner_agent_id=str(client.owner_agent_id or ""),
        owner_name=owner.name if owner else "",
        tags=list(client.tags or []),
        custom_fields={
            k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in (client.custom_fields or {}).items()
        },
        marketing_consent=client.marketing_consent,
        marketing_consent_at=fmt_time(client.marketing_consent_at),
        marketing_consent_source=client.marketing_consent_source or "",
        portal_user_id=str(client.portal_user_id or ""),
        portal_user_email=portal.email if portal else "",
        legal_hold=client.legal_hold,
        legal_hold_reason=client.legal_hold_reason or "",
        erased=client.erased_at is not None,
        deleted=client.deleted_at is not None,
        merged_into_id=client.merged_into_id or 0,
        created_at=fmt_time(client.created_at),
        updated_at=fmt_time(client.updated_at),
        finances_visible=show,
        net_worth_converted=_converted(
            client, client.net_worth, client.net_worth_reporting, reporting
        )
        if show
        else "",
        aum_converted=_converted(client, client.aum, client.aum_reporting, reporting)
        if show
        else "",
        verified=client.verified,
    )


def get_client(actor: Actor, client_id: int) -> ClientDetail:
    require(actor, Action.VIEW_CLIENTS)
    with session_scope() as session:
        return client_detail(session, load_client(session, client_id, allow_deleted=True), actor)


def list_notes(actor: Actor, client_id: int) -> list[NoteRow]:
    require(actor, Action.VIEW_CLIENTS)
    with session_scope() as session:
        load_client(session, client_id, allow_deleted=True)
        rows = (
            session.execute(
                select(ClientNote, col(User.name))
                .outerjoin(User, col(User.id) == col(ClientNote.author_id))
                .where(col(ClientNote.client_id) == client_id)
                .order_by(col(ClientNote.created_at).desc())
                .limit(200)
            )
            .tuples()
            .all()
        )
        return [NoteRow(n.id, author or "—", n.body, fmt_time(n.created_at)) for n, author in rows]


@dataclass(frozen=True)
class ClientTicket:
    number: int
    subject: str
    status: str
    priority: str
    created_at: str


def client_tickets(actor: Actor, client_id: int, limit: int = 50) -> list[ClientTicket]:
    """The client's latest tickets, for staff who work tickets."""
    require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        load_client(session, client_id, allow_deleted=True)
        return [
            ClientTicket(t.number or 0, t.subject, t.status, t.priority, fmt_time(t.created_at))
            for t in session.scalars(
                select(Ticket)
                .where(col(Ticket.client_id) == client_id)
                .order_by(col(Ticket.created_at).desc())
                .limit(limit)
            )
        ]


def _shown(value: Any) -> str:
    if value is None or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "—"
    return str(value)


def client_history(actor: Actor, client_id: int, limit: int = 200) -> list[HistoryEntry]:
    """Who changed what on this client, newest first; finance values hidden from marketing."""
    require(actor, Action.VIEW_CLIENTS)
    show = may_see_finances(actor)
    with session_scope() as session:
        load_client(session, client_id, allow_deleted=True)
        rows = (
            session.execute(
                select(AuditLog, col(User.name))
                .outerjoin(User, col(User.id) == col(AuditLog.actor_id))
                .where(col(AuditLog.entity_type) == "client", col(AuditLog.entity_id) == client_id)
                .order_by(col(AuditLog.created_at).desc(), col(AuditLog.id).desc())
                .limit(limit)
            )
            .tuples()
            .all()
        )
    history = []
    for entry, who in rows:
        changes = []
        for key, pair in (entry.changes or {}).items():
            before, after = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
            if key in RESTRICTED_FIELDS and not show:
                before, after = ("hidden" if before is not None else None), "hidden"
            label = FIELDS[key].label if key in FIELDS else key.replace("_", " ")
            changes.append((label, _shown(before), _shown(after)))
        history.append(
            HistoryEntry(
                fmt_time(entry.created_at),
                who or "System",
                entry.action.removeprefix("client."),
                changes,
            )
        )
    return history
