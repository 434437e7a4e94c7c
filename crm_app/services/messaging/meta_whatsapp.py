"""WhatsApp through Meta's Cloud API: the webhook handshake and signature, its payload, media,
and sending through the Graph API messages endpoint (`META_GRAPH_URL`, a setting)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from crm_app.services.mail.transport import PermanentFailure, TemporaryFailure
from crm_app.services.messaging import config
from crm_app.services.messaging.whatsapp import InboundMedia, InboundMessage, e164
from crm_app.settings import get_settings
from models.messaging import Provider

log = logging.getLogger(__name__)

MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
# Graph API error codes that retrying cannot fix soon: outside the 24-hour window (131047),
# recipient not on WhatsApp (131026), bad parameters (100, 131008, 131009), template issues.
_PERMANENT_CODES = {100, 131008, 131009, 131026, 131047, 131051, 132000, 132001, 132012}


def handshake(mode: str, token: str, challenge: str, cfg: config.MetaConfig) -> str | None:
    """The challenge to echo when Meta's subscription request carries our verify token."""
    if mode != "subscribe" or not cfg.enabled or not cfg.verify_token or not challenge:
        return None
    if not hmac.compare_digest(token.encode(), cfg.verify_token.encode()):
        return None
    return challenge


def signature_valid(app_secret: str, raw_body: bytes, header: str) -> bool:
    """X-Hub-Signature-256 is `sha256=` + the hex HMAC-SHA256 of the raw body."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header[len("sha256=") :].strip().lower().encode())


@dataclass(frozen=True)
class StatusUpdate:
    provider_message_id: str
    state: str
    error: str | None


def _text_of(message: dict[str, Any]) -> str:
    kind = message.get("type")
    if kind == "text":
        return str((message.get("text") or {}).get("body") or "")
    if kind in MEDIA_TYPES:
        return str((message.get(kind) or {}).get("caption") or "")
    if kind == "button":
        return str((message.get("button") or {}).get("text") or "")
    if kind == "interactive":
        reply = message.get("interactive") or {}
        chosen = reply.get("button_reply") or reply.get("list_reply") or {}
        return str(chosen.get("title") or "")
    if kind == "location":
        where = message.get("location") or {}
        place = f"{where.get('latitude')}, {where.get('longitude')} {where.get('name') or ''}"
        return f"[location {place.strip()}]"
    if kind == "reaction":
        return f"[reaction {(message.get('reaction') or {}).get('emoji', '')}]"
    return f"[a WhatsApp message of type “{kind}” the CRM does not show]"


def fetch_media(media_id: str, cfg: config.MetaConfig, client: httpx.Client) -> tuple[bytes, str]:
    """A media file by its id: the Graph API gives its URL, fetched with the same token."""
    if not cfg.access_token:
        raise ValueError("no access token to fetch it")
    headers = {"Authorization": f"Bearer {cfg.access_token}"}
    info = client.get(f"{cfg.graph_url}/{media_id}", headers=headers)
    info.raise_for_status()
    meta = info.json()
    url = str(meta.get("url") or "")
    if not url.startswith("https://") and not config.same_origin(url, cfg.graph_url):
        raise ValueError("the media address is not on a secure host")
    limit = get_settings().attachment_max_bytes
    with client.stream("GET", url, headers=headers) as response:
        response.raise_for_status()
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise ValueError("larger than the attachment limit")
            chunks.append(chunk)
    return b"".join(chunks), str(meta.get("mime_type") or "application/octet-stream")


def parse(
    payload: Any, cfg: config.MetaConfig, *, remote_addr: str | None, fetch: bool = True
) -> tuple[list[InboundMessage], list[StatusUpdate]]:
    """The messages and statuses in one webhook delivery (a batch of entries and changes)."""
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    if not isinstance(payload, dict):
        return messages, statuses
    client = httpx.Client(timeout=15.0, follow_redirects=True, max_redirects=3)
    try:
        for entry in payload.get("entry") or []:
            for change in (entry or {}).get("changes") or []:
                value = (change or {}).get("value") or {}
                if not isinstance(value, dict):
                    continue
                names = {
                    str(c.get("wa_id")): str((c.get("profile") or {}).get("name") or "")
                    for c in value.get("contacts") or []
                    if isinstance(c, dict)
                }
                for message in value.get("messages") or []:
                    parsed = _message(message, names, cfg, client, remote_addr, fetch)
                    if parsed is not None:
                        messages.append(parsed)
                for status in value.get("statuses") or []:
                    if not isinstance(status, dict) or not status.get("id"):
                        continue
                    errors = status.get("errors") or []
                    error = None
                    if errors and isinstance(errors[0], dict):
                        first = errors[0]
                        error = f"error {first.get('code')}: " + str(
                            first.get("title") or first.get("message") or ""
                        )
                    statuses.append(
                        StatusUpdate(str(status["id"]), str(status.get("status") or ""), error)
                    )
    finally:
        client.close()
    return messages, statuses


def _message(
    message: Any,
    names: dict[str, str],
    cfg: config.MetaConfig,
    client: httpx.Client,
    remote_addr: str | None,
    fetch: bool,
) -> InboundMessage | None:
    if not isinstance(message, dict) or not message.get("id"):
        return None
    sender = str(message.get("from") or "")
    address = e164(sender)
    if address is None:
        return None
    media: list[InboundMedia] = []
    kind = message.get("type")
    if kind in MEDIA_TYPES:
        item = message.get(kind) or {}
        content_type = str(item.get("mime_type") or "application/octet-stream")
        name = str(item.get("filename") or f"whatsapp-{kind}.{content_type.split('/')[-1][:10]}")
        media_id = str(item.get("id") or "")
        if media_id and not fetch:
            media.append(InboundMedia(name, content_type, None))
        elif media_id:
            try:
                data, content_type = fetch_media(media_id, cfg, client)
                media.append(InboundMedia(name, content_type, data))
            except (httpx.HTTPError, ValueError) as error:
                log.warning("meta media not fetched", extra={"error": str(error)})
                media.append(
                    InboundMedia(name, content_type, None, f"[{kind} not kept: {error}]"[:300])
                )
    return InboundMessage(
        provider=Provider.META,
        external_id=str(message["id"])[:200],
        address=address,
        profile_name=names.get(sender, "")[:200],
        body=_text_of(message),
        media=media,
        remote_addr=remote_addr,
    )


# ---------------------------------------------------------------- sending


def send(
    cfg: config.MetaConfig,
    to: str,
    body: str,
    *,
    template: str | None = None,
    language: str = "en_US",
    variables: Sequence[str] = (),
    transport: httpx.BaseTransport | None = None,
) -> str:
    """One message to `to` (E.164) through the Graph API; returns its `wamid`. A template
    goes by name and language, its `variables` as the body component's text parameters."""
    if not cfg.can_send:
        raise TemporaryFailure("Meta is not set up to send (access token and phone number id).")
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.lstrip("+"),
    }
    if template:
        chosen: dict[str, Any] = {"name": template, "language": {"code": language}}
        if variables:
            parameters = [{"type": "text", "text": value} for value in variables]
            chosen["components"] = [{"type": "body", "parameters": parameters}]
        payload.update(type="template", template=chosen)
    else:
        payload.update(type="text", text={"preview_url": False, "body": body})
    try:
        with httpx.Client(timeout=20.0, transport=transport) as client:
            response = client.post(
                f"{cfg.graph_url}/{cfg.phone_number_id}/messages",
                json=payload,
                headers={"Authorization": f"Bearer {cfg.access_token}"},
            )
    except httpx.HTTPError as error:
        raise TemporaryFailure(f"The Graph API could not be reached: {error}") from error
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 400:
        refusal = (data.get("error") or {}) if isinstance(data, dict) else {}
        code = refusal.get("code")
        reason = f"Meta refused the message ({response.status_code}"
        reason += f", error {code}): " if code else "): "
        reason += str(refusal.get("message") or response.text[:300])
        if code in _PERMANENT_CODES or (
            400 <= response.status_code < 500 and response.status_code != 429
        ):
            raise PermanentFailure(reason)
        raise TemporaryFailure(reason)
    try:
        return str(data["messages"][0]["id"])
    except (KeyError, IndexError, TypeError) as error:
        raise TemporaryFailure("The Graph API answered without a message id.") from error


def check_connection(cfg: config.MetaConfig) -> str:
    """Read the business number with the saved token: what a manager's "Test" reports."""
    if not cfg.access_token or not cfg.phone_number_id:
        return "Enter the access token and the phone number id first."
    try:
        with httpx.Client(timeout=10.0) as client:
            response = client.get(
                f"{cfg.graph_url}/{cfg.phone_number_id}",
                headers={"Authorization": f"Bearer {cfg.access_token}"},
            )
    except httpx.HTTPError as error:
        return f"The Graph API could not be reached: {error}"
    if response.status_code >= 400:
        return f"Meta refused: {response.status_code} {response.text[:200]}"
    data = response.json()
    return (
        f"Connected to WhatsApp number {data.get('display_phone_number') or cfg.phone_number_id}."
    )
