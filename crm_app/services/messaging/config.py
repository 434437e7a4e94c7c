"""The settings of the messaging channels: a manager's values (channel settings page, secrets
encrypted at rest) over the environment's.

- `TWILIO_AUTH_TOKEN`: verifies Twilio's `X-Twilio-Signature`, signs in to its REST API.
- `TWILIO_ACCOUNT_SID`: the Twilio account replies are sent from (`AC…`).
- `TWILIO_WHATSAPP_FROM`: the sender, `whatsapp:+14155238886`.
- `TWILIO_API_BASE_URL` (`https://api.twilio.com`): Twilio's REST API; media are fetched from
  this host only.
- `META_APP_SECRET`: verifies Meta's `X-Hub-Signature-256`.
- `META_VERIFY_TOKEN`: the token Meta's subscription handshake must present.
- `META_ACCESS_TOKEN`, `META_PHONE_NUMBER_ID`: the Graph API token and business number id
  replies are sent with.
- `META_GRAPH_URL` (`https://graph.facebook.com/v21.0`): the Graph API (a proxy, a test server).
- `CRM_WHATSAPP_TEMPLATES`, `TWILIO_WHATSAPP_TEMPLATES`: the approved templates of Meta and
  of Twilio, one a line (`crm_app/services/messaging/templates.py`), the only messages
  WhatsApp lets the business send outside the 24-hour window.

The webhook URLs the providers are given start with `CRM_PUBLIC_URL`: signatures are checked
against that address, so they hold behind a proxy.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlmodel import Session

from crm_app.crypto import SecretUnreadable, decrypt_secret
from crm_app.db import session_scope
from crm_app.services.messaging import templates as catalog
from crm_app.services.messaging.templates import Template
from crm_app.settings import get_settings
from models.messaging import ChannelConfig, Provider

log = logging.getLogger(__name__)

TWILIO_WEBHOOK_PATH = "/api/webhooks/twilio/whatsapp"
META_WEBHOOK_PATH = "/api/webhooks/meta/whatsapp"
TWILIO_API = "https://api.twilio.com"
META_GRAPH = "https://graph.facebook.com/v21.0"


@dataclass(frozen=True)
class TwilioConfig:
    enabled: bool
    auth_token: str
    account_sid: str
    whatsapp_from: str
    api_base_url: str
    templates: tuple[Template, ...]

    @property
    def can_verify(self) -> bool:
        return self.enabled and bool(self.auth_token)

    @property
    def can_send(self) -> bool:
        return self.enabled and bool(self.auth_token and self.account_sid and self.whatsapp_from)


@dataclass(frozen=True)
class MetaConfig:
    enabled: bool
    app_secret: str
    verify_token: str
    access_token: str
    phone_number_id: str
    graph_url: str
    templates: tuple[Template, ...]

    @property
    def can_verify(self) -> bool:
        return self.enabled and bool(self.app_secret)

    @property
    def can_send(self) -> bool:
        return self.enabled and bool(self.access_token and self.phone_number_id)


def _env(name: str, default: str = "") -> str:
    get_settings()  # loads `.env` once
    return (os.environ.get(name) or "").strip() or default


def _stored(session: Session, provider: Provider) -> ChannelConfig | None:
    return session.get(ChannelConfig, provider.value)


def _secret(row: ChannelConfig | None, name: str) -> str:
    token = (row.secrets or {}).get(name) if row is not None else None
    if not token:
        return ""
    try:
        return decrypt_secret(token)
    except SecretUnreadable:
        return ""


def _value(row: ChannelConfig | None, name: str) -> str:
    return str((row.settings or {}).get(name) or "").strip() if row is not None else ""


def _templates(
    row: ChannelConfig | None, provider: Provider, env_name: str
) -> tuple[Template, ...]:
    """The approved templates saved on the page, else the environment's; a line that is not
    one is skipped and logged (the page refuses them when saving)."""
    parsed = catalog.parse(_value(row, "templates") or _env(env_name), provider.value)
    if parsed.problems:
        log.warning(
            "whatsapp templates skipped",
            extra={"provider": provider.value, "problems": list(parsed.problems)},
        )
    return parsed.templates


def twilio(session: Session | None = None) -> TwilioConfig:
    if session is None:
        with session_scope() as own:
            return twilio(own)
    row = _stored(session, Provider.TWILIO)
    auth_token = _secret(row, "auth_token") or _env("TWILIO_AUTH_TOKEN")
    return TwilioConfig(
        enabled=row.enabled if row is not None and row.enabled is not None else bool(auth_token),
        auth_token=auth_token,
        account_sid=_value(row, "account_sid") or _env("TWILIO_ACCOUNT_SID"),
        whatsapp_from=_value(row, "whatsapp_from") or _env("TWILIO_WHATSAPP_FROM"),
        api_base_url=(
            _value(row, "api_base_url") or _env("TWILIO_API_BASE_URL", TWILIO_API)
        ).rstrip("/"),
        templates=_templates(row, Provider.TWILIO, "TWILIO_WHATSAPP_TEMPLATES"),
    )


def meta(session: Session | None = None) -> MetaConfig:
    if session is None:
        with session_scope() as own:
            return meta(own)
    row = _stored(session, Provider.META)
    app_secret = _secret(row, "app_secret") or _env("META_APP_SECRET")
    return MetaConfig(
        enabled=row.enabled if row is not None and row.enabled is not None else bool(app_secret),
        app_secret=app_secret,
        verify_token=_secret(row, "verify_token") or _env("META_VERIFY_TOKEN"),
        access_token=_secret(row, "access_token") or _env("META_ACCESS_TOKEN"),
        phone_number_id=_value(row, "phone_number_id") or _env("META_PHONE_NUMBER_ID"),
        graph_url=(_value(row, "graph_url") or _env("META_GRAPH_URL", META_GRAPH)).rstrip("/"),
        templates=_templates(row, Provider.META, "CRM_WHATSAPP_TEMPLATES"),
    )


def public_url(path: str) -> str:
    """The address a provider calls for `path` (under CRM_PUBLIC_URL)."""
    return get_settings().public_url.rstrip("/") + path


def same_origin(url: str, base: str) -> bool:
    """Whether `url` is on the scheme, host and port of `base` (default ports filled in)."""
    a, b = urlsplit(url), urlsplit(base)

    def origin(parts) -> tuple[str, str, int | None]:
        try:
            port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
        except ValueError:
            return ("", "", None)
        return (parts.scheme.lower(), (parts.hostname or "").lower(), port)

    return bool(a.hostname) and origin(a) == origin(b)
