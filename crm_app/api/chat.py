"""`POST /api/chat/messages`: chat messages from other front ends (the seed system, a mobile
app), with the key a manager created for the site (`X-Chat-Site-Key`, or a bearer token).

Body (JSON): `name`, `email`, `text`, optional `visitor_token` (continue that conversation),
`website` (a honeypot: leave it empty). Answer 201: `{"visitor_token", "ticket_number"}`;
the token is renewed on each answer (send the latest one) and lapses 30 days after it was
given. A token the app did not sign for this site gets 403.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from crm_app.services.errors import ServiceError
from crm_app.services.messaging import web_chat

router = APIRouter(prefix="/chat", include_in_schema=False)

MAX_BODY_BYTES = 16 * 1024


def _key(request: Request) -> str:
    key = request.headers.get("x-chat-site-key", "")
    if not key:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token if scheme.lower() == "bearer" else ""
    return key.strip()


@router.post("/messages")
async def post_chat_message(request: Request) -> JSONResponse:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "That message is too large."}, status_code=413)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return JSONResponse({"error": "The body is not JSON."}, status_code=400)
    if not isinstance(data, dict):
        return JSONResponse({"error": "The body is a JSON object."}, status_code=400)
    fields = {}
    for name in ("name", "email", "text", "visitor_token", "website"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            return JSONResponse({"error": f"“{name}” is a string."}, status_code=422)
        fields[name] = value or ""
    posted = await run_in_threadpool(
        lambda: web_chat.api_post(
            _key(request),
            name=fields["name"],
            email=fields["email"],
            body=fields["text"],
            visitor_token=fields["visitor_token"] or None,
            honeypot=fields["website"],
            remote_addr=request.client.host if request.client else None,
        )
    )
    return JSONResponse(
        {"visitor_token": posted.visitor_token, "ticket_number": posted.ticket_number},
        status_code=201,
    )


@router.get("/loader.js")
async def chat_loader(request: Request, site: str = "") -> Response:
    """The loader the website includes (`<script src=… async>`): a "Chat with us" button that
    opens the chat in a window of its own (first-party: it works whatever the browser's
    third-party storage rules)."""
    try:
        brand = await run_in_threadpool(web_chat.branding, site[:32])
    except ServiceError:
        brand = None
    if brand is None or not brand.enabled:  # no button on the website for a disabled chat
        return Response("/* no such chat */", media_type="text/javascript", status_code=404)
    # The chat opens where the website fetched this script from: that address is reachable.
    script = web_chat.loader_script(brand, str(request.base_url))
    return Response(script, media_type="text/javascript", headers={"Cache-Control": "max-age=300"})
