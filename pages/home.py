"""`/`: sends each visitor to the setup wizard, the login, the waiting page or their first page."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.state import AppState


@rx.page(route=routes.HOME, title="Finance CRM", on_load=AppState.route_home)
def home_page() -> rx.Component:
    return rx.center(rx.spinner(size="3"), min_height="100vh")
