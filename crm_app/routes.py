"""Every route in one place: constants for pages, builders for links. No route is typed twice."""

from __future__ import annotations

from typing import Any

HOME = "/"
SETUP = "/setup"
LOGIN = "/login"
SIGNUP = "/signup"
WAITING = "/waiting"
FORGOT_PASSWORD = "/forgot-password"
RESET_PASSWORD = "/reset-password"
TICKETS = "/tickets"
TICKET = "/tickets/[number]"
WORKSPACE = "/workspace"
CLIENTS = "/clients"
CLIENT = "/clients/[client_id]"
CLIENT_IMPORT = "/import/clients"
CLIENT_DUPLICATES = "/duplicates/clients"
CLIENT_FIELDS = "/settings/client-fields"
CURRENCY_RATES = "/settings/currency-rates"
SEGMENTS = "/segments"
CAMPAIGNS = "/campaigns"
CAMPAIGN = "/campaigns/[campaign_id]"
USERS = "/users"
AI_SETTINGS = "/settings/ai"
SENT_MAIL = "/settings/sent-mail"
MAILBOXES = "/settings/mailboxes"
ARCHIVES = "/settings/archives"
KNOWLEDGE = "/knowledge"
ARCHIVE_MESSAGE_PREFIX = "/knowledge/messages/"
ARCHIVE_MESSAGE = "/knowledge/messages/[document_id]"
SLA_SETTINGS = "/settings/sla"
TEAMS = "/settings/teams"
DASHBOARD = "/dashboard"
SLA_BOARD = "/sla-board"
MY_WORK = "/my-work"
PORTAL = "/portal"
PORTAL_NEW = "/portal/new"
PORTAL_TICKET = "/portal/tickets/[number]"
PORTAL_HELP = "/portal/help"
PORTAL_SETTINGS = "/portal/settings"
PORTAL_LOGIN = "/portal/login"
PORTAL_SIGNUP = "/portal/signup"
PORTAL_FORGOT = "/portal/forgot-password"
PORTAL_SET_PASSWORD = "/portal/set-password"
FAQ_ADMIN = "/settings/faq"
# The web chat widget a firm embeds on its website, and the channels' settings (managers).
CHAT_WIDGET_PREFIX = "/chat/"
CHAT_WIDGET = "/chat/[site]"
CHANNELS = "/settings/channels"
API_AUTH_SET_PASSWORD = "/api/auth/set-password"
API_AUTH_FORGOT = "/api/auth/forgot-password"
API_AUTH_PORTAL_SIGNUP = "/api/auth/portal-signup"
API_AUTH_LOGIN = "/api/auth/login"
API_AUTH_SETUP = "/api/auth/setup"
API_AUTH_LOGOUT = "/api/auth/logout"
PROFILE = "/profile"
API_ATTACHMENT = "/api/attachments/{attachment_id}"
# Resumable archive uploads from the archives page (assets/archive_upload.js speaks to these).
API_ARCHIVE_UPLOADS = "/api/archive-uploads"
API_ARCHIVE_UPLOAD = "/api/archive-uploads/{upload_id}"
API_ARCHIVE_UPLOAD_COMPLETE = "/api/archive-uploads/{upload_id}/complete"
# Campaign mail: links recipients follow (no sign-in) and SendGrid's Event Webhook.
API_CAMPAIGN_UNSUBSCRIBE = "/api/campaigns/unsubscribe/{token}"
API_CAMPAIGN_OPEN = "/api/campaigns/open/{token}.gif"
API_CAMPAIGN_CLICK = "/api/campaigns/click/{token}"
API_CAMPAIGN_EXPORT = "/api/campaigns/{campaign_id}/recipients.csv"
API_SENDGRID_EVENTS = "/api/webhooks/sendgrid/events"
# Sign-in through Ory Kratos (when configured): the product's pages, posting to /api/auth/ory/*.
ORY_LOGIN = "/ory/login"
ORY_REGISTER = "/ory/register"
ORY_RECOVERY = "/ory/recovery"
API_ORY_LOGIN = "/api/auth/ory/login"
API_ORY_REGISTER = "/api/auth/ory/register"
API_ORY_RECOVERY = "/api/auth/ory/recovery"
API_ORY_RECOVERY_FINISH = "/api/auth/ory/recovery/finish"


def _under(prefix: str, key: Any) -> Any:
    """`prefix` + `key`: a string for a plain value, a Reflex Var for a Var (a link in a
    `foreach` row), so no page builds a route by hand."""
    if isinstance(key, (int, str)):
        return f"{prefix}{key}"
    from reflex.vars import StringVar  # only components pass Vars; services never get here

    return prefix + (key if isinstance(key, StringVar) else key.to_string())


def chat_widget(public_id: Any) -> Any:
    """`/chat/<site>`: the web chat widget of a site."""
    return _under(CHAT_WIDGET_PREFIX, public_id)


def ticket(number: Any) -> Any:
    """`/tickets/<number>` for an int, a string or a Reflex Var."""
    return _under("/tickets/", number)


def client(client_id: Any) -> Any:
    return _under("/clients/", client_id)


def portal_ticket(number: Any) -> Any:
    """`/portal/tickets/<number>`: a client's own request."""
    return _under("/portal/tickets/", number)


def attachment(attachment_id: int | str) -> str:
    return API_ATTACHMENT.format(attachment_id=attachment_id)


def archive_message(document_id: Any) -> Any:
    """`/knowledge/messages/<document id>`: the viewer of an archived message."""
    return _under(ARCHIVE_MESSAGE_PREFIX, document_id)


def campaign(campaign_id: Any) -> Any:
    """`/campaigns/<id>`: compose, send and results of one campaign."""
    return _under("/campaigns/", campaign_id)


def campaign_export(campaign_id: int | str) -> str:
    return API_CAMPAIGN_EXPORT.format(campaign_id=campaign_id)
