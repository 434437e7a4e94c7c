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
    frontend_port=3000,
    backend_port=3000,
    disable_plugins=[SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
)
