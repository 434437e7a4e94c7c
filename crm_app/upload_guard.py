"""ASGI guard in front of Reflex's upload endpoint: an upload is refused before its first byte
is read unless its session may take the target handler's `UploadPolicy` action, it fits the
policy's size, and the user has an upload slot free (`crm_app/services/uploads.py`).

Reflex hands a streamed upload to its handler only after it has started reading the body, and
a buffered one only after spooling every file to disk; checking here means a visitor with no
role (or no session) never gets a byte stored.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from reflex_base.event import EventHandler
from reflex_base.utils.format import format_event_handler
from starlette.requests import Request

from crm_app.auth.cookies import SESSION_COOKIE, read_cookie
from crm_app.services import uploads, web_sessions
from crm_app.services.errors import PermissionDenied, ServiceError
from crm_app.services.uploads import UploadPolicy

UPLOAD_PATH = "/_upload"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def accept_uploads(handler: EventHandler, policy: UploadPolicy) -> None:
    """Let the upload endpoint feed `handler` under `policy` (call next to the handler)."""
    uploads.register_handler(format_event_handler(handler), policy)


TabCheck = Callable[[str, int], Awaitable[bool]]


class UploadGuard:
    def __init__(self, app: ASGIApp, tab_belongs_to: TabCheck | None = None) -> None:
        self.app = app
        # Whether the named tab is signed in with the uploader's session (the handler runs on
        # that tab's state, as its user). Tests stand in for Reflex's state manager here.
        self.tab_belongs_to = tab_belongs_to or _tab_belongs_to

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or scope.get("path", "").rstrip("/") != UPLOAD_PATH
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        policy = uploads.policy_for_handler(request.headers.get("reflex-event-handler", ""))
        if policy is None:
            await _refuse(send, 404, "No upload is taken here.")
            return
        try:
            length = int(request.headers.get("content-length") or -1)
        except ValueError:
            length = -1
        try:
            uploads.check_request_size(policy, length if length >= 0 else None)
            found = await asyncio.to_thread(
                web_sessions.session_for_token,
                read_cookie(request.headers.get("cookie", ""), SESSION_COOKIE),
            )
            actor = found.actor if found else None
            if found is not None and not await self.tab_belongs_to(
                request.headers.get("reflex-client-token", ""), found.session_id
            ):
                # The handler runs as the tab's session: only that session may feed it.
                raise PermissionDenied("This upload does not belong to your session.")
            slot = await asyncio.to_thread(uploads.begin, actor, policy)
        except ServiceError as error:
            await _refuse(send, error.http_status, error.message)
            return
        try:
            await self._pass_through(scope, receive, send, policy, slot)
        finally:
            await asyncio.to_thread(uploads.finish, slot)

    async def _pass_through(
        self, scope: Scope, receive: Receive, send: Send, policy: UploadPolicy, slot: int
    ) -> None:
        received = 0
        too_large = False
        response_started = False
        last_touch = time.monotonic()

        async def counted_receive() -> Message:
            nonlocal received, too_large, last_touch
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > policy.max_request_bytes:
                    # Chunked or lying Content-Length: stop reading, as if the client left.
                    too_large = True
                    return {"type": "http.disconnect"}
                if time.monotonic() - last_touch > uploads.TOUCH_EVERY_SECONDS:
                    last_touch = time.monotonic()
                    await asyncio.to_thread(uploads.touch, slot)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if too_large:
                if not response_started:
                    response_started = True
                    await _refuse(send, 413, policy.too_large_message())
                return
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
        if too_large and not response_started:
            await _refuse(send, 413, policy.too_large_message())


async def _tab_belongs_to(tab_token: str, session_id: int) -> bool:
    """Is the tab the upload names (its handler runs on that tab's state) signed in with the
    uploader's own session?"""
    from reflex.istate.manager.token import BaseStateToken

    from crm_app.crm_app import app as reflex_app
    from crm_app.state import AppState

    if not tab_token or len(tab_token) > 200:
        return False
    state = await reflex_app.state_manager.get_state(BaseStateToken(ident=tab_token, cls=AppState))
    tab = state if isinstance(state, AppState) else await state.get_state(AppState)
    return tab._session_id == session_id


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
