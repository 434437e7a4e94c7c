"""Builds the app: pages, the HTTP API on the same port, and every model for migrations."""

from __future__ import annotations

import reflex as rx

import models  # noqa: F401 - every table registered for Alembic
import pages.ai_settings
import pages.client_duplicates
import pages.client_fields
import pages.client_import
import pages.client_profile
import pages.clients
import pages.home
import pages.login
import pages.portal
import pages.segments
import pages.setup
import pages.signup
import pages.ticket
import pages.tickets
import pages.users
import pages.waiting
import pages.workspace_settings  # noqa: F401 - pages register themselves with @rx.page
from crm_app.api import build_api
from crm_app.logging_setup import configure_logging
from crm_app.upload_guard import UploadGuard

configure_logging()

# The upload guard wraps everything: uploads are refused before Reflex reads a byte.
app = rx.App(api_transformer=[build_api(), UploadGuard])
