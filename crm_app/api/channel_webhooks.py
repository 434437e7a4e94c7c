"""Webhooks in from the WhatsApp providers, under `/api/webhooks`.

- `POST /api/webhooks/twilio/whatsapp`: Twilio's form-encoded message and status callbacks,
  checked with Twilio's `RequestValidator` over CRM_PUBLIC_URL + path + query.
- `GET /api/webhooks/meta/whatsapp`: Meta's subscription handshake (`hub.challenge` echoed
  when `hub.verify_token` matches META_VERIFY_TOKEN).
- `POST /api/webhooks/meta/whatsapp`: Meta's JSON events, `X-Hub-Signature-256` checked over
  the raw body with META_APP_SECRET.

Anything unsigned or forged is answered 403 and recorded; a signed webhook is answered 2xx
also when it was received before (it is stored once) or holds nothing the CRM acts on, so the
provider does not retry it.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from crm_app.services.errors import InvalidInput
from crm_app.services.messaging import config, meta_whatsapp, twilio_whatsapp, whatsapp
from models.messaging import EventOutcome, Provider

router = APIRouter(prefix="/webhooks", include_in_schema=False)

MAX_BODY_BYTES = 1024 * 1024
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None


def _refuse(provider: Provider, reason: str, request: Request) -> Response:
    whatsapp.record_event(
        provider, "refused", EventOutcome.REFUSED, reason, remote_addr=_remote(request)
    )
    return JSONResponse({"error": "The signature is missing or wrong."}, status_code=403)


async def _body(request: Request) -> bytes | None:
    """The raw body, or None when it is larger than any webhook the providers send."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return body


def _signed_url(request: Request) -> str:
    """The address Twilio was given: CRM_PUBLIC_URL + the path and query it called."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    path = raw_path.decode("latin-1").split("?", 1)[0]
    query = request.scope.get("query_string", b"").decode("latin-1")
    return config.public_url(path) + (f"?{query}" if query else "")


@router.post("/twilio/whatsapp")
async def twilio_whatsapp_webhook(request: Request) -> Response:
    body = await _body(request)
    if body is None:
        return JSONResponse({"error": "That request is too large."}, status_code=413)
    cfg = await run_in_threadpool(config.twilio)
    if not cfg.can_verify:
        return _refuse(Provider.TWILIO, "Twilio is not set up (no auth token).", request)
    url = _signed_url(request)
    text_body = body.decode("utf-8", errors="replace")
    params = twilio_whatsapp.FormParams(parse_qsl(text_body, keep_blank_values=True))
    # With bodySHA256 in the query Twilio signed a JSON body: the validator checks its hash.
    body_hashed = "bodySHA256" in parse_qs(request.scope.get("query_string", b"").decode())
    signed: twilio_whatsapp.FormParams | str = text_body if body_hashed else params
    if not twilio_whatsapp.signature_valid(
        cfg.auth_token,
        url,
        signed,
        request.headers.get("x-twilio-signature", ""),
        request.headers.get("x-twilio-webhooks-signature-settings", ""),
    ):
        return _refuse(Provider.TWILIO, "X-Twilio-Signature does not match.", request)
    if isinstance(signed, str):  # a JSON body (bodySHA256): the fields are in it
        try:
            data = json.loads(text_body)
        except ValueError:
            data = {}
        if isinstance(data, dict):
            params = twilio_whatsapp.FormParams([(str(k), str(v)) for k, v in data.items()])
    remote = _remote(request)
    if twilio_whatsapp.is_status_callback(params):
        await run_in_threadpool(
            whatsapp.record_status,
            Provider.TWILIO,
            params.get("MessageSid") or params.get("SmsSid"),
            params.get("MessageStatus"),
            (f"error {params.get('ErrorCode')}" if params.get("ErrorCode") else None),
            remote_addr=remote,
        )
        return Response(_EMPTY_TWIML, media_type="text/xml")
    sid = params.get("MessageSid") or params.get("SmsMessageSid") or params.get("SmsSid")
    if bool(sid) and await run_in_threadpool(whatsapp.already_received, Provider.TWILIO, sid):
        return Response(_EMPTY_TWIML, media_type="text/xml")
    message = await run_in_threadpool(
        twilio_whatsapp.parse_inbound, params, cfg, remote_addr=remote
    )
    if message is None:
        await run_in_threadpool(
            whatsapp.record_event,
            Provider.TWILIO,
            "message",
            EventOutcome.IGNORED,
            "No message sid or sender number.",
            remote_addr=remote,
        )
        return Response(_EMPTY_TWIML, media_type="text/xml")
    try:
        await run_in_threadpool(whatsapp.receive, message)
    except InvalidInput as error:
        return JSONResponse({"error": error.message}, status_code=400)
    return Response(_EMPTY_TWIML, media_type="text/xml")


@router.get("/meta/whatsapp")
async def meta_whatsapp_handshake(request: Request) -> Response:
    cfg = await run_in_threadpool(config.meta)
    query = request.query_params
    challenge = meta_whatsapp.handshake(
        query.get("hub.mode", ""),
        query.get("hub.verify_token", ""),
        query.get("hub.challenge", ""),
        cfg,
    )
    if challenge is None:
        whatsapp.record_event(
            Provider.META,
            "refused",
            EventOutcome.REFUSED,
            "Subscription handshake with a wrong verify token.",
            remote_addr=_remote(request),
        )
        return JSONResponse({"error": "The verify token does not match."}, status_code=403)
    return PlainTextResponse(challenge)


@router.post("/meta/whatsapp")
async def meta_whatsapp_webhook(request: Request) -> Response:
    body = await _body(request)
    if body is None:
        return JSONResponse({"error": "That request is too large."}, status_code=413)
    cfg = await run_in_threadpool(config.meta)
    if not cfg.can_verify:
        return _refuse(Provider.META, "Meta is not set up (no app secret).", request)
    if not meta_whatsapp.signature_valid(
        cfg.app_secret, body, request.headers.get("x-hub-signature-256", "")
    ):
        return _refuse(Provider.META, "X-Hub-Signature-256 does not match.", request)
    try:
        payload = json.loads(body)
    except ValueError:
        return JSONResponse({"error": "The body is not JSON."}, status_code=400)
    remote = _remote(request)
    messages, statuses = await run_in_threadpool(_parse_new, payload, cfg, remote)
    for message in messages:
        try:
            await run_in_threadpool(whatsapp.receive, message)
        except InvalidInput:
            continue
    for status in statuses:
        await run_in_threadpool(
            whatsapp.record_status,
            Provider.META,
            status.provider_message_id,
            status.state,
            status.error,
            remote_addr=remote,
        )
    return PlainTextResponse("EVENT_RECEIVED")


def _parse_new(
    payload: object, cfg: config.MetaConfig, remote: str | None
) -> tuple[list[whatsapp.InboundMessage], list[meta_whatsapp.StatusUpdate]]:
    """Parse without fetching media, then fetch only for messages not stored yet."""
    messages, statuses = meta_whatsapp.parse(payload, cfg, remote_addr=remote, fetch=False)
    fresh = [m for m in messages if not whatsapp.already_received(Provider.META, m.external_id)]
    if any(m.media for m in fresh):
        wanted = {m.external_id for m in fresh}
        fetched, _ = meta_whatsapp.parse(payload, cfg, remote_addr=remote, fetch=True)
        fresh = [m for m in fetched if m.external_id in wanted]
    return fresh, statuses
