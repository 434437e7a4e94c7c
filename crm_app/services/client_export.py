"""CSV and XLSX export of the current client list or a segment, as the actor may see it."""

from __future__ import annotations

from typing import Any

from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.client_fields import may_see_finances
from crm_app.services.clients import client_list_query
from crm_app.services.errors import InvalidInput
from crm_app.services.segments import segment_client_ids_query
from crm_app.services.spreadsheet import spreadsheet_bytes
from models.client import Client

MAX_EXPORT_ROWS = 250_000
BASE_COLUMNS = (
    "id",
    "kind",
    "name",
    "email",
    "phone",
    "country",
    "region",
    "risk_category",
    "currency",
    "tags",
    "marketing_consent",
    "created_at",
)
FINANCE_COLUMNS = ("net_worth", "aum", "kyc_status", "kyc_review_due")


def export_rows(
    actor: Actor, *, search: str = "", filters: dict | None = None, segment_id: int | None = None
) -> tuple[list[str], list[list[Any]]]:
    require(actor, Action.VIEW_CLIENTS)
    columns = list(BASE_COLUMNS) + (list(FINANCE_COLUMNS) if may_see_finances(actor) else [])
    with session_scope() as session:
        query, _ = client_list_query(session, actor, search=search, filters=filters)
        if segment_id is not None:
            require(actor, Action.VIEW_SEGMENTS)
            members = segment_client_ids_query(session, actor, segment_id)
            query = query.where(col(Client.id).in_(members))
        rows = [
            [getattr(client, column) for column in columns]
            for client in session.scalars(
                query.order_by(Client.name, Client.id).limit(MAX_EXPORT_ROWS + 1)
            )
        ]
    if len(rows) > MAX_EXPORT_ROWS:
        raise InvalidInput(
            f"Narrow the list first: an export holds at most {MAX_EXPORT_ROWS:,} clients."
        )
    return columns, rows


def export_clients(actor: Actor, fmt: str, **criteria: Any) -> bytes:
    """The file's bytes; `fmt` is "csv" or "xlsx"."""
    if fmt not in ("csv", "xlsx"):
        raise InvalidInput("Export as csv or xlsx.")
    columns, rows = export_rows(actor, **criteria)
    return spreadsheet_bytes(fmt, columns, rows, sheet_name="Clients") or b""
