"""`/portal/help`: the help centre, the firm's published answers by topic, with search, and a
"did this help?" under each opened answer."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Actor
from crm_app.components import empty_state
from crm_app.services import portal as portal_service
from crm_app.services.portal.knowledge import FaqRow
from crm_app.state import service_event
from pages.portal.layout import PortalBase, portal_page


class HelpCentreState(PortalBase):
    entries: list[FaqRow] = []
    search: str = ""
    opened_id: int = 0
    voted_ids: list[int] = []

    @service_event
    def load(self, actor: Actor):
        self.search, self.opened_id = "", 0
        self.entries = portal_service.knowledge.help_centre(actor)

    @service_event
    def set_search(self, actor: Actor, text: str):
        self.search = str(text)[:200]
        self.entries = portal_service.knowledge.help_centre(actor, self.search)

    @service_event
    def open_entry(self, actor: Actor, entry_id: int):
        if entry_id == self.opened_id:
            self.opened_id = 0
            return
        if entry_id in [e.id for e in self.entries]:
            portal_service.knowledge.view_entry(actor, entry_id)
            self.opened_id = entry_id

    @service_event
    def vote(self, actor: Actor, entry_id: int, helpful: bool):
        if entry_id != self.opened_id:
            return
        portal_service.knowledge.vote(actor, entry_id, bool(helpful))
        self.voted_ids = [*self.voted_ids, entry_id]


def _feedback(entry: FaqRow) -> rx.Component:
    return rx.cond(
        HelpCentreState.voted_ids.contains(entry.id),
        rx.text("Thank you for telling us.", size="1", color_scheme="gray"),
        rx.hstack(
            rx.text("Did this help?", size="1", color_scheme="gray"),
            rx.button(
                rx.icon("thumbs-up", size=14),
                "Yes",
                size="1",
                variant="soft",
                on_click=HelpCentreState.vote(entry.id, True),
                class_name="faq-helpful-yes",
            ),
            rx.button(
                rx.icon("thumbs-down", size=14),
                "No",
                size="1",
                variant="soft",
                color_scheme="gray",
                on_click=HelpCentreState.vote(entry.id, False),
                class_name="faq-helpful-no",
            ),
            align="center",
            spacing="2",
        ),
    )


def _entry(entry: FaqRow) -> rx.Component:
    opened = HelpCentreState.opened_id == entry.id
    return rx.card(
        rx.button(
            rx.icon(rx.cond(opened, "chevron-down", "chevron-right"), size=16),
            rx.text(entry.question, weight="medium", text_align="left"),
            rx.spacer(),
            rx.cond(entry.category != "", rx.badge(entry.category, variant="soft")),
            variant="ghost",
            on_click=HelpCentreState.open_entry(entry.id),
            width="100%",
            justify="start",
        ),
        rx.cond(
            opened,
            rx.vstack(
                rx.text(entry.answer, white_space="pre-wrap", padding_top="0.5rem", size="2"),
                _feedback(entry),
                spacing="2",
            ),
        ),
        width="100%",
        class_name="faq-entry",
        id="faq-" + entry.id.to_string(),
    )


@portal_page(routes.PORTAL_HELP, "Help centre", on_load=[HelpCentreState.load])
def help_centre_page() -> rx.Component:
    return rx.vstack(
        rx.input(
            rx.input.slot(rx.icon("search", size=16)),
            placeholder="Search the help centre…",
            value=HelpCentreState.search,
            on_change=HelpCentreState.set_search.debounce(300),
            width="100%",
            max_width="36rem",
            id="help-search",
            aria_label="Search the help centre",
        ),
        rx.cond(
            HelpCentreState.entries.length() > 0,
            rx.vstack(rx.foreach(HelpCentreState.entries, _entry), width="100%", spacing="2"),
            empty_state(
                "book-open",
                "No answers found",
                "Try other words, or ask us directly with a new request.",
            ),
        ),
        rx.text(
            "Not answered here? ", rx.link("Send us a request", href=routes.PORTAL_NEW), size="2"
        ),
        width="100%",
        spacing="4",
    )
