"""`/api/v1/clients`: the searchable, filtered list, one client, create and edit — through the
client services the pages use (finance fields blank for roles that may not see them)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from crm_app.api.v1.callers import Caller, caller
from crm_app.api.v1.params import RowId
from crm_app.api.v1.responses import errors
from crm_app.api.v1.schemas import (
    MAX_ID,
    ClientCreateIn,
    ClientDetailOut,
    ClientFieldsIn,
    ClientOut,
    ClientPageOut,
)
from crm_app.services import clients
from models.client import ClientKind, KycStatus, RiskCategory

router = APIRouter(prefix="/clients", tags=["clients"])
# The columns the list sorts by (finance ones only for roles that may see finances).
# Members come from `clients.SORTS` at import: mypy cannot list them.
ClientSort = StrEnum("ClientSort", {key: key for key in clients.SORTS})  # type: ignore[misc]
_Short = Query(max_length=200)
_Amount = Query(max_length=40, pattern=r"^(\d{1,15}(\.\d{1,2})?)?$")
_Day = Query(pattern=r"^(\d{4}-\d{2}-\d{2})?$", description="YYYY-MM-DD")


@router.get("", response_model=ClientPageOut, responses=errors(), summary="List clients")
def list_clients(
    who: Annotated[Caller, Depends(caller)],
    search: Annotated[str, Query(max_length=200, description="Name, email or phone")] = "",
    region: Annotated[str, _Short] = "",
    country: Annotated[str, _Short] = "",
    kind: ClientKind | None = None,
    risk_category: RiskCategory | None = None,
    kyc_status: KycStatus | None = None,
    owner_agent_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    tag: Annotated[str, Query(max_length=50, pattern=r"^[\w .&+\-]*$")] = "",
    marketing_consent: bool | None = None,
    has_open_ticket: bool | None = None,
    net_worth_min: Annotated[str, _Amount] = "",
    net_worth_max: Annotated[str, _Amount] = "",
    created_from: Annotated[str, _Day] = "",
    created_to: Annotated[str, _Day] = "",
    sort: ClientSort | None = None,
    descending: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 25,
) -> ClientPageOut:
    """The same filters as the client list page (finance filters need the finance
    permission). No side effects."""
    filters: dict[str, Any] = {
        "region": region,
        "country": country,
        "kind": kind.value if kind else "",
        "risk_category": risk_category.value if risk_category else "",
        "kyc_status": kyc_status.value if kyc_status else "",
        "owner_agent_id": owner_agent_id,
        "tag": tag,
        "marketing_consent": marketing_consent,
        "has_open_ticket": has_open_ticket,
        "net_worth__min": net_worth_min,
        "net_worth__max": net_worth_max,
        "created_at__from": created_from,
        "created_at__to": created_to,
    }
    found = clients.list_clients(
        who.actor,
        search=search,
        page=page,
        page_size=page_size,
        filters=filters,
        sort=sort.value if sort else "",
        descending=descending,
    )
    return ClientPageOut(
        items=[ClientOut.of(row) for row in found.items],
        total=found.total,
        page=found.page,
        page_size=found.page_size,
    )


@router.get(
    "/{client_id}", response_model=ClientDetailOut, responses=errors(404), summary="One client"
)
def get_client(client_id: RowId, who: Annotated[Caller, Depends(caller)]) -> ClientDetailOut:
    """No side effects."""
    return ClientDetailOut.of(clients.get_client(who.actor, client_id))


@router.post(
    "", response_model=ClientOut, status_code=201, responses=errors(), summary="Add a client"
)
def create_client(body: ClientCreateIn, who: Annotated[Caller, Depends(caller)]) -> ClientOut:
    """Staff who may edit clients (finance fields need the finance permission). Side effect:
    audited (`client.created`)."""
    changes = body.changes()
    return ClientOut.of(clients.create_client(who.actor, **changes))


@router.patch(
    "/{client_id}", response_model=ClientDetailOut, responses=errors(404), summary="Edit a client"
)
def update_client(
    client_id: RowId, body: ClientFieldsIn, who: Annotated[Caller, Depends(caller)]
) -> ClientDetailOut:
    """Only the fields sent change. Side effect: audited with each field's before and after."""
    return ClientDetailOut.of(clients.update_client(who.actor, client_id, body.changes()))
