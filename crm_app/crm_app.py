"""Builds the app: pages, the HTTP API on the same port, and every model for migrations."""

from __future__ import annotations

import os

import reflex as rx

import models  # noqa: F401 - every table registered for Alembic
import pages.ai_settings
import pages.archive_message
import pages.archives
import pages.campaigns
import pages.channels
import pages.chat_widget
import pages.client_duplicates
import pages.client_fields
import pages.client_import
import pages.client_profile
import pages.clients
import pages.currency_rates
import pages.dashboard
import pages.faq_admin
import pages.forgot_password
import pages.home
import pages.knowledge
import pages.login
import pages.mailboxes
import pages.my_work
import pages.not_found
import pages.ory_login
import pages.ory_recovery
import pages.ory_register
import pages.portal
import pages.profile
import pages.segments
import pages.sent_mail
import pages.setup
import pages.signup
import pages.sla_board
import pages.sla_settings
import pages.teams
import pages.ticket
import pages.tickets
import pages.users
import pages.waiting
import pages.workspace_settings
from crm_app import off_loop
from crm_app.api import build_api
from crm_app.api.security import SecurityMiddleware
from crm_app.auth.middleware import SessionMiddleware
from crm_app.auth.permissions import Action
from crm_app.errors_ui import backend_exception_handler
from crm_app.logging_setup import configure_logging
from crm_app.metrics import HttpMetricsMiddleware, install_event_timing
from crm_app.services.uploads import UploadPolicy
from crm_app.settings import get_settings
from crm_app.upload_guard import UploadGuard, accept_uploads

configure_logging()
# State, uploads and anything else the app writes are for the service user alone.
os.umask(0o077)

# The upload guard refuses uploads before Reflex reads a byte; the security middleware, outermost,
# refuses other sites and adds the browser security headers to pages, API and websocket alike;
# the metrics middleware around it all counts every request, refused ones included.
app = rx.App(
    api_transformer=[build_api(), UploadGuard, SecurityMiddleware, HttpMetricsMiddleware],
    head_components=[
        # A plain script element, in the served HTML: it runs before the frontend starts (and
        # from this origin, as the content security policy wants; rx.script adds it too late).
        rx.el.script(src=pages.chat_widget.STORAGE_SHIM),
        rx.el.link(rel="icon", href="/favicon.ico", sizes="32x32"),
        rx.el.link(rel="apple-touch-icon", href="/favicon.png"),
    ],
    backend_exception_handler=backend_exception_handler,
)
app.add_middleware(SessionMiddleware())
install_event_timing()  # per-event latency for /api/metrics
off_loop.install()  # plain handlers wait for PostgreSQL in a thread, not on the event loop
# Files attached to replies and notes: staff who may edit tickets, within the set limits.
accept_uploads(
    pages.ticket.TicketState.receive_files,
    UploadPolicy(
        purpose="ticket-attachments",
        action=Action.EDIT_TICKETS,
        max_file_bytes=get_settings().attachment_max_bytes,
        max_files=get_settings().attachment_max_files,
    ),
)
# Files on a client's new request or comment in the portal: their own tickets only (checked
# again by the portal service before the first byte is stored).
for portal_files_handler in (
    pages.portal.NewRequestState.receive_files,
    pages.portal.PortalTicketState.receive_files,
):
    accept_uploads(
        portal_files_handler,
        UploadPolicy(
            purpose="portal-attachments",
            action=Action.USE_PORTAL,
            max_file_bytes=get_settings().attachment_max_bytes,
            max_files=get_settings().attachment_max_files,
        ),
    )
