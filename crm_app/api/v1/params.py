"""Path and query parameters every `/api/v1` module shares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request

from crm_app.api.v1.schemas import MAX_ID, storable_text
from crm_app.services.errors import InvalidInput

RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="A row id", examples=[12])]
TicketNumber = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The ticket number", examples=[1042])
]


def storable_query(request: Request) -> None:
    """Refuse query text the database cannot hold (NUL, invalid Unicode) before any service."""
    for key, value in request.query_params.multi_items():
        if not storable_text(key) or not storable_text(value):
            raise InvalidInput("Query parameters may not contain NUL or invalid Unicode.")
