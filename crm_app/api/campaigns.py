"""Campaign mail's public endpoints and SendGrid's Event Webhook.

- `GET /api/campaigns/unsubscribe/{token}`: a page (no sign-in) with one button.
- `POST /api/campaigns/unsubscribe/{token}`: the button, and RFC 8058 one-click
  (`List-Unsubscribe=One-Click` from a mail provider). Unsubscribes at once; repeatable.
- `GET /api/campaigns/open/{token}.gif`: the open pixel.
- `GET /api/campaigns/click/{token}?u=&s=`: a signed link's redirect; a tampered one is refused
  with 403 (never an open redirect).
- `POST /api/webhooks/sendgrid/events`: signed events (ECDSA), 403 when forged or stale.
- `GET /api/campaigns/{id}/recipients.csv`: the export, for staff who manage campaigns.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.concurrency import run_in_threadpool

from crm_app import routes
from crm_app.auth.cookies import SESSION_COOKIE, read_cookie
from crm_app.services import accounts
from crm_app.services.campaigns import results, tracking
from crm_app.services.errors import NotAuthenticated, NotFound, PermissionDenied

# Links in mail and a provider's webhook, not part of the documented staff API.
router = APIRouter(tags=["campaigns"], include_in_schema=False)

_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;
color:#1a1a1a}}button{{font-size:1rem;padding:.6rem 1.2rem;border-radius:6px;border:0;
background:#1f4fd1;color:#fff;cursor:pointer}}button:focus{{outline:3px solid #99b4ff}}</style>
</head><body><h1>{html.escape(title)}</h1>{body}</body></html>""",
        status_code=status,
        headers=_PAGE_HEADERS,
    )


@router.get(routes.API_CAMPAIGN_UNSUBSCRIBE.removeprefix("/api"))
async def unsubscribe_page(token: str) -> HTMLResponse:
    """The unsubscribe link in the mail: shows the address and one button. No writes."""
    try:
        target = await run_in_threadpool(tracking.unsubscribe_target, token)
    except NotFound:
        return _page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    if target.already:
        return _page(
            "You are unsubscribed",
            f"<p>{html.escape(target.email)} receives no more marketing email from us.</p>",
        )
    return _page(
        "Unsubscribe",
        f"<p>Stop all marketing email to <strong>{html.escape(target.email)}</strong>?</p>"
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit" autofocus>Unsubscribe</button></form>',
    )


@router.post(routes.API_CAMPAIGN_UNSUBSCRIBE.removeprefix("/api"), summary="Unsubscribe")
async def unsubscribe(token: str, request: Request) -> Response:
    """Unsubscribes the token's address from every later campaign (RFC 8058 one-click or the
    page's button). 200 with a confirmation page; 404 for a link that is not ours."""
    body = (await request.body())[:2000].decode("utf-8", "replace")
    source = "one-click" if "List-Unsubscribe=One-Click" in body else "link"
    try:
        target = await run_in_threadpool(tracking.unsubscribe, token, source)
    except NotFound:
        return _page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    return _page(
        "You are unsubscribed",
        f"<p>{html.escape(target.email)} receives no more marketing email from us. "
        "It takes effect now.</p>",
    )


@router.get(routes.API_CAMPAIGN_OPEN.removeprefix("/api"))
async def open_pixel(token: str) -> Response:
    await run_in_threadpool(tracking.record_open, token)
    return Response(
        tracking.pixel_gif(),
        media_type="image/gif",
        headers={"Cache-Control": "no-store, private"},
    )


@router.get(routes.API_CAMPAIGN_CLICK.removeprefix("/api"))
async def click(token: str, u: str = "", s: str = "") -> Response:
    try:
        target = await run_in_threadpool(tracking.click_target, token, u, s)
    except PermissionDenied:
        return _page("Link not valid", "<p>This link is not valid.</p>", 403)
    return RedirectResponse(target, status_code=302, headers={"Referrer-Policy": "no-referrer"})


@router.post(routes.API_SENDGRID_EVENTS.removeprefix("/api"), summary="SendGrid events")
async def sendgrid_events(request: Request) -> JSONResponse:
    """SendGrid's Event Webhook. The signature (ECDSA over timestamp + raw body, public key
    `SENDGRID_WEBHOOK_PUBLIC_KEY`) is checked before anything is read; 403 when forged,
    tampered or older than `SENDGRID_WEBHOOK_TOLERANCE_SECONDS`. Applies the events
    idempotently (sg_event_id)."""
    raw = await request.body()
    signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    timestamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    try:
        tracking.verify_sendgrid_signature(raw, signature, timestamp)
    except PermissionDenied as error:
        return JSONResponse({"error": error.message}, status_code=403)
    counts = await run_in_threadpool(tracking.process_sendgrid_events, raw)
    return JSONResponse(counts)


@router.get(routes.API_CAMPAIGN_EXPORT.removeprefix("/api"), summary="Campaign recipients CSV")
async def export_recipients(campaign_id: int, request: Request) -> StreamingResponse:
    """Every recipient with status and tracking. Signed-in staff who manage campaigns."""
    token = read_cookie(request.headers.get("cookie", ""), SESSION_COOKIE)
    actor = await run_in_threadpool(accounts.actor_for_token, token) if token else None
    if actor is None:
        raise NotAuthenticated("Please sign in.")
    lines = await run_in_threadpool(results.export_csv, actor, campaign_id)
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"',
            "Cache-Control": "private, no-store",
        },
    )
