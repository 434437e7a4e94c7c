"""Webhooks out: a manager registers a URL; ticket.created, ticket.updated and message.added
are POSTed to it as JSON, signed, and retried with backoff until delivered or given up.

- In the action's own transaction (`events.stage`), the subscriber below writes one outbox row
  per subscribed endpoint (`webhook_delivery`): it commits with the change or not at all;
  nothing is sent from the request.
- The `webhook_deliver` job claims due rows (`FOR UPDATE SKIP LOCKED`, with a lease so a
  worker that dies mid-delivery leaves the row to be tried again), posts, and records the
  answer: a 2xx is delivered; anything else waits 30 s, 1, 2, 4 … minutes (at most an hour)
  and is marked failed after MAX_ATTEMPTS. Delivery is at least once: receivers de-duplicate
  by the `X-CRM-Delivery` id.
- Signature: `X-CRM-Signature: sha256=<hex HMAC-SHA256 of "<X-CRM-Timestamp>.<body>">` under
  the endpoint's secret (shown once at registration, stored encrypted).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.crypto import decrypt_secret, encrypt_secret
from crm_app.db import session_scope
from crm_app.services import audit, events
from crm_app.services.errors import Conflict, InvalidInput, NotFound
from models.base import utcnow
from models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

EVENTS = ("ticket.created", "ticket.updated", "message.added")
MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600
LEASE_SECONDS = 300  # a claimed row is tried again after this if its worker died
TIMEOUT_SECONDS = 10
MAX_ENDPOINTS = 20
SIGNATURE_HEADER = "X-CRM-Signature"


@dataclass(frozen=True)
class EndpointRow:
    id: int
    url: str
    events: list[str]
    is_active: bool
    created_at: str


@dataclass(frozen=True)
class CreatedEndpoint:
    row: EndpointRow
    secret: str  # shown once


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: str
    next_attempt_at: str


def _fmt(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _endpoint_row(endpoint: WebhookEndpoint) -> EndpointRow:
    assert endpoint.id is not None
    return EndpointRow(
        endpoint.id,
        endpoint.url,
        list(endpoint.events),
        endpoint.is_active,
        _fmt(endpoint.created_at),
    )


def _delivery_row(delivery: WebhookDelivery) -> DeliveryRow:
    assert delivery.id is not None
    return DeliveryRow(
        delivery.id,
        delivery.event,
        delivery.status,
        delivery.attempts,
        delivery.last_status_code,
        delivery.last_error,
        _fmt(delivery.created_at),
        _fmt(delivery.next_attempt_at),
    )


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise InvalidInput("The webhook URL must be an http(s) URL.")
    if parts.username or parts.password:
        raise InvalidInput("Put no credentials in the URL: the signature authenticates us.")
    return url


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for a body sent at `timestamp` (Unix seconds)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def register_endpoint(actor: Actor, url: str, wanted: list[str] | None = None) -> CreatedEndpoint:
    """Managers: a new endpoint with a fresh secret. Side effect: audited (not the secret)."""
    require(actor, Action.MANAGE_INTEGRATIONS)
    url = _check_url(url)
    chosen = list(dict.fromkeys(wanted or EVENTS))
    unknown = [name for name in chosen if name not in EVENTS]
    if unknown or not chosen:
        raise InvalidInput(f"Events must be among: {', '.join(EVENTS)}.")
    secret = "whsec_" + secrets.token_urlsafe(32)
    with session_scope() as session:
        active = session.execute(
            select(col(WebhookEndpoint.id)).where(col(WebhookEndpoint.is_active).is_(True))
        ).all()
        if len(active) >= MAX_ENDPOINTS:
            raise Conflict(f"At most {MAX_ENDPOINTS} webhooks: remove one first.")
        endpoint = WebhookEndpoint(
            url=url, secret=encrypt_secret(secret), events=chosen, created_by_id=actor.user_id
        )
        session.add(endpoint)
        session.flush()
        audit.record(
            session,
            actor,
            "webhook.registered",
            "webhook",
            endpoint.id,
            {"url": url, "events": chosen},
        )
        return CreatedEndpoint(_endpoint_row(endpoint), secret)


def list_endpoints(actor: Actor) -> list[EndpointRow]:
    require(actor, Action.MANAGE_INTEGRATIONS)
    with session_scope() as session:
        rows = session.scalars(select(WebhookEndpoint).order_by(col(WebhookEndpoint.id)))
        return [_endpoint_row(e) for e in rows]


def remove_endpoint(actor: Actor, endpoint_id: int) -> None:
    """Managers: stop sending to an endpoint (its pending deliveries are dropped). Audited."""
    require(actor, Action.MANAGE_INTEGRATIONS)
    with session_scope() as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or not endpoint.is_active:
            raise NotFound("That webhook does not exist.")
        endpoint.is_active = False
        session.execute(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.endpoint_id) == endpoint_id,
                col(WebhookDelivery.status) == DeliveryStatus.PENDING,
            )
            .values(status=DeliveryStatus.FAILED, last_error="webhook removed")
        )
        audit.record(
            session, actor, "webhook.removed", "webhook", endpoint_id, {"url": endpoint.url}
        )


def list_deliveries(actor: Actor, endpoint_id: int, limit: int = 50) -> list[DeliveryRow]:
    """Managers: an endpoint's latest deliveries, newest first."""
    require(actor, Action.MANAGE_INTEGRATIONS)
    with session_scope() as session:
        if session.get(WebhookEndpoint, endpoint_id) is None:
            raise NotFound("That webhook does not exist.")
        rows = session.scalars(
            select(WebhookDelivery)
            .where(col(WebhookDelivery.endpoint_id) == endpoint_id)
            .order_by(col(WebhookDelivery.id).desc())
            .limit(min(max(limit, 1), 200))
        )
        return [_delivery_row(d) for d in rows]


# --- the outbox: filled after each commit --------------------------------------------------------


def _payload(event: events.Event) -> dict[str, Any]:
    data: dict[str, Any] = {"ticket": {"number": event.number, "subject": event.subject}}
    if event.name == "ticket.updated":
        data["changes"] = event.payload.get("changes", {})
    elif event.name == "ticket.created":
        data["assignee_id"] = event.payload.get("assignee_id")
    elif event.name == "message.added":
        data["message"] = {
            key: event.payload.get(key)
            for key in ("message_id", "internal", "from_client", "body", "channel")
        }
    return {
        "event": event.name,
        "occurred_at": utcnow().isoformat(),
        "actor": {"id": event.actor.user_id, "name": event.actor.name} if event.actor else None,
        "data": data,
    }


_ENDPOINTS_KEY = "webhook_endpoints"


def write_outbox(session: Session, event: events.Event) -> int:
    """One pending delivery per active endpoint that wants this event, in the caller's
    transaction (the action's own, through `events.stage`); returns how many."""
    if event.name not in EVENTS:
        return 0
    # Read once per transaction: a bulk change stages an event per ticket.
    endpoints = session.info.get(_ENDPOINTS_KEY)
    if endpoints is None:
        endpoints = (
            session.execute(
                select(col(WebhookEndpoint.id), col(WebhookEndpoint.events)).where(
                    col(WebhookEndpoint.is_active).is_(True)
                )
            )
            .tuples()
            .all()
        )
        session.info[_ENDPOINTS_KEY] = endpoints
    wanted = [endpoint_id for endpoint_id, names in endpoints if event.name in (names or [])]
    if not wanted:
        return 0
    payload = _payload(event)
    session.add_all(
        WebhookDelivery(endpoint_id=endpoint_id, event=event.name, payload=payload)
        for endpoint_id in wanted
    )
    return len(wanted)


def enqueue(event: events.Event) -> int:
    """`write_outbox` in a transaction of its own."""
    with session_scope() as session:
        return write_outbox(session, event)


for _name in EVENTS:
    # The handler's count is for `enqueue`; the event bus ignores what a handler returns.
    events.subscribe_in_transaction(_name, write_outbox)  # type: ignore[arg-type]


# --- delivery: the job ---------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, doubling, at most an hour."""
    return timedelta(
        seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)
    )


@dataclass(frozen=True)
class _Claimed:
    id: int
    event: str
    payload: dict[str, Any]
    attempts: int
    url: str
    secret: str


def _claim(limit: int) -> list[_Claimed]:
    now = utcnow()
    with session_scope() as session:
        due = (
            session.execute(
                select(WebhookDelivery, col(WebhookEndpoint.url), col(WebhookEndpoint.secret))
                .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
                .where(
                    col(WebhookDelivery.status) == DeliveryStatus.PENDING,
                    col(WebhookDelivery.next_attempt_at) <= now,
                )
                .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
                .limit(limit)
                .with_for_update(of=WebhookDelivery, skip_locked=True)
            )
            .tuples()
            .all()
        )
        claimed = []
        for delivery, url, secret in due:
            assert delivery.id is not None
            # The lease: another worker skips it until then; if this one dies it is retried.
            delivery.next_attempt_at = now + timedelta(seconds=LEASE_SECONDS)
            delivery.attempts += 1
            claimed.append(
                _Claimed(
                    delivery.id,
                    delivery.event,
                    delivery.payload,
                    delivery.attempts,
                    url,
                    decrypt_secret(secret),
                )
            )
        return claimed


def _post(client: httpx.Client, claimed: _Claimed) -> tuple[int | None, str | None]:
    body = json.dumps({"id": claimed.id, **claimed.payload}, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    try:
        response = client.post(
            claimed.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "FinanceCRM-Webhooks/1",
                "X-CRM-Event": claimed.event,
                "X-CRM-Delivery": str(claimed.id),
                "X-CRM-Timestamp": timestamp,
                SIGNATURE_HEADER: sign(claimed.secret, timestamp, body),
            },
        )
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def _record(claimed: _Claimed, status_code: int | None, error: str | None) -> None:
    now = utcnow()
    values: dict[str, Any] = {"last_status_code": status_code, "last_error": error}
    if error is None:
        values |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
    elif claimed.attempts >= MAX_ATTEMPTS:
        values["status"] = DeliveryStatus.FAILED
    else:
        values["next_attempt_at"] = now + retry_delay(claimed.attempts)
    with session_scope() as session:
        session.execute(
            update(WebhookDelivery).where(col(WebhookDelivery.id) == claimed.id).values(**values)
        )


def deliver_due(limit: int = 100, transport: httpx.BaseTransport | None = None) -> dict[str, int]:
    """Post every due delivery once (the job calls this); returns counts by outcome."""
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    claimed = _claim(limit)
    if not claimed:
        return counts
    with httpx.Client(
        timeout=TIMEOUT_SECONDS, follow_redirects=False, transport=transport
    ) as client:
        for item in claimed:
            status_code, error = _post(client, item)
            _record(item, status_code, error)
            if error is None:
                counts["delivered"] += 1
            elif item.attempts >= MAX_ATTEMPTS:
                counts["failed"] += 1
                log.warning("webhook delivery gave up", extra={"delivery": item.id, "error": error})
            else:
                counts["retrying"] += 1
    return counts
