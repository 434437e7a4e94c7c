"""The channel settings page's service (managers): WhatsApp through Twilio or Meta (enable,
credentials write-only and encrypted at rest, a connection test, the webhook URLs to paste
into the provider's console), and the latest webhooks and deliveries of each channel."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.crypto import encrypt_secret
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput
from crm_app.services.messaging import config, meta_whatsapp, templates, twilio_whatsapp
from crm_app.services.tickets.rows import fmt
from models.base import utcnow
from models.messaging import ChannelConfig, ChannelEvent, Provider
from models.outbox import OutboundMessage
from models.ticket import Channel, Ticket

RECENT = 20
MAX_TEMPLATES_TEXT = 60_000  # the approved templates' lines, bodies included
_SECRETS = {
    Provider.TWILIO: ("auth_token",),
    Provider.META: ("app_secret", "verify_token", "access_token"),
}
_VALUES = {
    Provider.TWILIO: ("account_sid", "whatsapp_from", "api_base_url", "templates"),
    Provider.META: ("phone_number_id", "graph_url", "templates"),
}


@dataclass(frozen=True)
class EventRow:
    at: str
    kind: str
    outcome: str
    reason: str
    address: str
    remote_addr: str


@dataclass(frozen=True)
class DeliveryRow:
    at: str
    number: int
    channel: str
    recipient: str
    status: str
    error: str


@dataclass(frozen=True)
class ProviderSettings:
    provider: str
    enabled: bool
    setting_values: dict[str, str]
    secret_flags: dict[str, bool]  # name -> a value is set (here or in the environment)
    webhook_url: str
    recent_events: list[EventRow]


def _events(session, provider: Provider) -> list[EventRow]:
    rows = session.execute(
        select(ChannelEvent)
        .where(col(ChannelEvent.provider) == provider.value)
        .order_by(col(ChannelEvent.id).desc())
        .limit(RECENT)
    ).scalars()
    return [
        EventRow(
            at=fmt(row.created_at),
            kind=row.kind,
            outcome=row.outcome,
            reason=row.reason or "",
            address=row.address or "",
            remote_addr=row.remote_addr or "",
        )
        for row in rows
    ]


def provider_settings(actor: Actor, provider: str) -> ProviderSettings:
    require(actor, Action.MANAGE_INTEGRATIONS)
    chosen = _provider(provider)
    with session_scope() as session:
        if chosen == Provider.TWILIO:
            cfg = config.twilio(session)
            values = {
                "account_sid": cfg.account_sid,
                "whatsapp_from": cfg.whatsapp_from,
                "api_base_url": cfg.api_base_url,
                "templates": templates.text(cfg.templates),
            }
            secrets_set = {"auth_token": bool(cfg.auth_token)}
            url, enabled = config.public_url(config.TWILIO_WEBHOOK_PATH), cfg.enabled
        else:
            meta = config.meta(session)
            values = {
                "phone_number_id": meta.phone_number_id,
                "graph_url": meta.graph_url,
                "templates": templates.text(meta.templates),
            }
            secrets_set = {
                "app_secret": bool(meta.app_secret),
                "verify_token": bool(meta.verify_token),
                "access_token": bool(meta.access_token),
            }
            url, enabled = config.public_url(config.META_WEBHOOK_PATH), meta.enabled
        return ProviderSettings(
            provider=chosen.value,
            enabled=enabled,
            setting_values=values,
            secret_flags=secrets_set,
            webhook_url=url,
            recent_events=_events(session, chosen),
        )


def _provider(provider: str) -> Provider:
    if provider not in (Provider.TWILIO.value, Provider.META.value):
        raise InvalidInput("That is not a WhatsApp provider.")
    return Provider(provider)


def _checked_templates(value: str, provider: Provider) -> str:
    """The approved templates as they are stored, or InvalidInput naming each bad line."""
    parsed = templates.parse(value, provider.value)
    if parsed.problems:
        raise InvalidInput("Approved templates: " + " ".join(parsed.problems[:5]))
    return templates.text(parsed.templates)


def save_provider(
    actor: Actor,
    provider: str,
    *,
    enabled: bool,
    values: dict[str, str],
    new_secrets: dict[str, str],
) -> None:
    """Save a provider's settings. Secrets left blank keep what is stored; they are encrypted
    and never shown again. Audited as `channel.settings_saved` (names, never values)."""
    require(actor, Action.MANAGE_INTEGRATIONS)
    chosen = _provider(provider)
    cleaned: dict[str, str] = {}
    for name in _VALUES[chosen]:
        value = str(values.get(name) or "").strip()
        if len(value) > (MAX_TEMPLATES_TEXT if name == "templates" else 500):
            raise InvalidInput(f"“{name}” is too long.")
        if name.endswith("_url") and value and not value.startswith(("https://", "http://")):
            raise InvalidInput("An address starts with https://.")
        if name == "templates":
            value = _checked_templates(value, chosen)
        cleaned[name] = value
    with session_scope() as session:
        row = session.get(ChannelConfig, chosen.value)
        if row is None:
            row = ChannelConfig(provider=chosen.value, settings={}, secrets={})
            session.add(row)
        row.enabled = bool(enabled)
        row.settings = cleaned
        stored = dict(row.secrets or {})
        changed = []
        for name in _SECRETS[chosen]:
            secret = str(new_secrets.get(name) or "").strip()
            if secret:
                if len(secret) > 500:
                    raise InvalidInput(f"“{name}” is too long.")
                stored[name] = encrypt_secret(secret)
                changed.append(name)
        row.secrets = stored
        row.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "channel.settings_saved",
            "channel",
            None,
            {
                "provider": chosen.value,
                "enabled": row.enabled,
                "secrets_changed": changed,
                "templates": [
                    t.key for t in templates.parse(cleaned["templates"], chosen.value).templates
                ],
            },
        )


def test_provider(actor: Actor, provider: str) -> str:
    """Sign in to the provider with the saved settings; says what happened."""
    require(actor, Action.MANAGE_INTEGRATIONS)
    if _provider(provider) == Provider.TWILIO:
        return twilio_whatsapp.check_connection(config.twilio())
    return meta_whatsapp.check_connection(config.meta())


def recent_deliveries(actor: Actor) -> list[DeliveryRow]:
    """The latest WhatsApp and web chat replies and what became of them."""
    require(actor, Action.MANAGE_INTEGRATIONS)
    with session_scope() as session:
        rows = (
            session.execute(
                select(OutboundMessage, col(Ticket.number))
                .join(Ticket, col(Ticket.id) == col(OutboundMessage.ticket_id))
                .where(
                    col(OutboundMessage.channel).in_(
                        (Channel.WHATSAPP.value, Channel.WEB_CHAT.value)
                    )
                )
                .order_by(col(OutboundMessage.id).desc())
                .limit(RECENT)
            )
            .tuples()
            .all()
        )
        return [
            DeliveryRow(
                at=fmt(row.updated_at),
                number=number,
                channel=row.channel,
                recipient=row.recipient,
                status=row.status,
                error=row.last_error or "",
            )
            for row, number in rows
        ]
