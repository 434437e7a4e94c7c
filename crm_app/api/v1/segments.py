"""`/api/v1/segments`: saved segments and who is in them now (the segment services' checks:
a rule on a finance field is refused to a role that may not see finances)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from crm_app.api.v1.callers import Caller, caller
from crm_app.api.v1.params import RowId
from crm_app.api.v1.responses import errors
from crm_app.api.v1.schemas import ClientOut, ClientPageOut, SegmentOut
from crm_app.services import clients, segments

router = APIRouter(prefix="/segments", tags=["segments"])


@router.get("", response_model=list[SegmentOut], responses=errors(), summary="Saved segments")
def list_segments(who: Annotated[Caller, Depends(caller)]) -> list[SegmentOut]:
    """No side effects."""
    return [SegmentOut.of(row) for row in segments.list_segments(who.actor)]


@router.get(
    "/{segment_id}/members",
    response_model=ClientPageOut,
    responses=errors(404),
    summary="A segment's members now",
)
def segment_members(
    segment_id: RowId,
    who: Annotated[Caller, Depends(caller)],
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 25,
) -> ClientPageOut:
    """The clients who match the segment's rules now, by name, one page at a time. No side
    effects."""
    segment = segments.get_segment(who.actor, segment_id)
    found = clients.list_clients(who.actor, rules=segment.rules, page=page, page_size=page_size)
    return ClientPageOut(
        items=[ClientOut.of(row) for row in found.items],
        total=found.total,
        page=found.page,
        page_size=found.page_size,
    )
