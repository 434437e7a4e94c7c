"""Reflex configuration. The database URL comes from crm_app.settings, never from here."""

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from crm_app.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="crm_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    redis_url=_settings.redis_url,
    # One worker keeps tab state in memory (nothing on disk); several share it through Redis.
    state_manager_mode="redis" if _settings.redis_url else "memory",
    # Cross-site browsers get no CORS answer unless configured (crm_app/api/security.py
    # refuses their websocket and state-changing requests).
    cors_allowed_origins=list(_settings.allowed_origins),
    disable_plugins=[SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
)
