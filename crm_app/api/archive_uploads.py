"""`/api/archive-uploads`: resumable uploads of mail archives from the archives page
(`assets/archive_upload.js`), tus-like:

- `POST /api/archive-uploads` with `{file_name, total_bytes, label, client_email, confidential}`
  creates an upload: 201 with its id and `Upload-Offset: 0`.
- `PATCH /api/archive-uploads/{id}` with `Upload-Offset: <n>` appends the body (at most
  `CHUNK_MAX_BYTES`, streamed to disk, never held whole): 204 with the new `Upload-Offset`. An
  offset other than the bytes received so far gets 409 with the right `Upload-Offset`; bytes a
  dropped connection cut short are kept, so the client asks and goes on.
- `HEAD`/`GET /api/archive-uploads/{id}`: the offset (and the archive once completed).
- `POST /api/archive-uploads/{id}/complete`: queues the archive for import (once).
- `DELETE /api/archive-uploads/{id}`: drops an unfinished upload and its bytes.

Signed in by the browser's session cookie. Every request must carry `X-Archive-Upload: 1`: a
header a cross-site form or image cannot send, and that makes a cross-site script's request
need a CORS preflight this site does not grant (the security middleware also refuses foreign
origins). Only the upload's creator sees it; to anyone else it is 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from crm_app import routes
from crm_app.auth.cookies import SESSION_COOKIE, read_cookie
from crm_app.auth.permissions import Actor
from crm_app.services import archive_uploads, web_sessions
from crm_app.services.archive_uploads import ArchiveUploadState, NewArchiveUpload
from crm_app.services.errors import InvalidInput, NotAuthenticated, PermissionDenied
from crm_app.services.uploads import UploadTooLarge

router = APIRouter(tags=["archive uploads"], include_in_schema=False)

CSRF_HEADER = "x-archive-upload"
_CREATE_MAX_BYTES = 16 * 1024


class _CreateBody(BaseModel):
    file_name: str = Field(max_length=1000)
    total_bytes: int
    label: str = Field(default="", max_length=1000)
    client_email: str = Field(default="", max_length=1000)
    confidential: bool = False


async def _actor(request: Request) -> Actor:
    if request.headers.get(CSRF_HEADER) != "1":
        raise PermissionDenied(f"Send the {CSRF_HEADER} header.")
    token = read_cookie(request.headers.get("cookie", ""), SESSION_COOKIE)
    found = await run_in_threadpool(web_sessions.session_for_token, token) if token else None
    if found is None:
        raise NotAuthenticated("Please sign in.")
    return found.actor


def _answer(state: ArchiveUploadState, status: int = 200) -> JSONResponse:
    return JSONResponse(
        {
            "upload_id": state.upload_id,
            "file_name": state.file_name,
            "offset": state.offset,
            "total_bytes": state.total_bytes,
            "archive_id": state.archive_id,
        },
        status_code=status,
        headers=_offset_headers(state),
    )


def _offset_headers(state: ArchiveUploadState) -> dict[str, str]:
    return {
        "Upload-Offset": str(state.offset),
        "Upload-Length": str(state.total_bytes),
        "Cache-Control": "no-store",
    }


async def _small_body(request: Request) -> bytes:
    body = b""
    async for piece in request.stream():
        body += piece
        if len(body) > _CREATE_MAX_BYTES:
            raise UploadTooLarge("That request is too large.")
    return body


@router.post(routes.API_ARCHIVE_UPLOADS.removeprefix("/api"))
async def create_archive_upload(request: Request) -> JSONResponse:
    """Start an upload (who may: as for queueing an archive). Creates the upload's files on
    disk; nothing is queued until it completes."""
    actor = await _actor(request)
    try:
        body = _CreateBody.model_validate_json(await _small_body(request))
    except ValidationError:
        raise InvalidInput("Send the file's name and size.") from None
    state = await run_in_threadpool(
        archive_uploads.create_upload, actor, NewArchiveUpload(**body.model_dump())
    )
    response = _answer(state, status=201)
    response.headers["Location"] = routes.API_ARCHIVE_UPLOAD.format(upload_id=state.upload_id)
    return response


@router.api_route(routes.API_ARCHIVE_UPLOAD.removeprefix("/api"), methods=["GET", "HEAD"])
async def archive_upload_offset(upload_id: str, request: Request) -> Response:
    """How far the upload has got. No side effects."""
    actor = await _actor(request)
    state = await run_in_threadpool(archive_uploads.get_upload, actor, upload_id)
    if request.method == "HEAD":
        return Response(status_code=200, headers=_offset_headers(state))
    return _answer(state)


@router.patch(routes.API_ARCHIVE_UPLOAD.removeprefix("/api"))
async def append_archive_chunk(upload_id: str, request: Request) -> Response:
    """Append the body at `Upload-Offset` (must be the bytes received so far). Writes the
    upload's part file; what arrived before a dropped connection is kept."""
    actor = await _actor(request)
    try:
        offset = int(request.headers.get("upload-offset", ""))
        length = (
            int(request.headers["content-length"]) if "content-length" in request.headers else None
        )
    except ValueError:
        raise InvalidInput(
            "Send the Upload-Offset and Content-Length headers as numbers."
        ) from None
    writer = await run_in_threadpool(archive_uploads.begin_chunk, actor, upload_id, offset, length)
    try:
        async for piece in request.stream():
            if piece:
                await run_in_threadpool(writer.write, piece)
    except ClientDisconnect:
        pass  # the client resends from the offset it will be told
    finally:
        reached = await run_in_threadpool(writer.close)
    return Response(status_code=204, headers={"Upload-Offset": str(reached)})


@router.post(routes.API_ARCHIVE_UPLOAD_COMPLETE.removeprefix("/api"))
async def complete_archive_upload(upload_id: str, request: Request) -> JSONResponse:
    """Queue the fully received file for import; answers the same archive when repeated.
    Moves the file and writes the archive row and its audit entry."""
    actor = await _actor(request)
    return _answer(await run_in_threadpool(archive_uploads.complete_upload, actor, upload_id))


@router.delete(routes.API_ARCHIVE_UPLOAD.removeprefix("/api"))
async def cancel_archive_upload(upload_id: str, request: Request) -> Response:
    """Drop an unfinished upload and delete its bytes."""
    actor = await _actor(request)
    await run_in_threadpool(archive_uploads.cancel_upload, actor, upload_id)
    return Response(status_code=204)
