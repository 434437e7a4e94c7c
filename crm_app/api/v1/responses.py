"""The error answers each route documents in OpenAPI (all in the one `ErrorOut` shape)."""

from __future__ import annotations

from typing import Any

from crm_app.api.v1.schemas import ErrorOut

_TEXT = {
    400: "The body is not valid JSON",
    401: "No valid token or session",
    403: "Your role (or a read-only token) may not do this",
    404: "Not found, or not yours to see",
    409: "In conflict with the current state (changed since the version you sent, a limit)",
    422: "A field is missing or not valid",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """400, 401, 403 and 422 always (every route needs a caller with a role and checks its
    input), plus `statuses`."""
    wanted = sorted({400, 401, 403, 422, *statuses})
    return {status: {"model": ErrorOut, "description": _TEXT[status]} for status in wanted}
