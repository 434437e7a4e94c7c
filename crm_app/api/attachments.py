"""`GET /api/attachments/{id}`: download a file attached to a ticket message."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from crm_app import routes
from crm_app.auth.cookies import SESSION_COOKIE, read_cookie
from crm_app.services import accounts, attachments
from crm_app.services.errors import NotAuthenticated

router = APIRouter(tags=["attachments"])


def _content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the exact name in RFC 5987 form."""
    fallback = (
        "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in filename)
        or "attachment"
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(routes.API_ATTACHMENT.removeprefix("/api"), summary="Download an attachment")
async def download_attachment(attachment_id: int, request: Request) -> FileResponse:
    """The signed-in user (session cookie) must be allowed to see the ticket and, for a client,
    the message (never an internal note's file). 401 without a session, 404 for a file they
    may not see or that does not exist. No side effects."""
    token = read_cookie(request.headers.get("cookie", ""), SESSION_COOKIE)
    actor = await run_in_threadpool(accounts.actor_for_token, token) if token else None
    if actor is None:
        raise NotAuthenticated("Please sign in.")
    found = await run_in_threadpool(attachments.open_for_download, actor, attachment_id)
    return FileResponse(
        found.path,
        media_type=found.content_type,
        headers={
            "Content-Disposition": _content_disposition(found.filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
