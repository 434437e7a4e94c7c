"""Knowledge (`/knowledge`): one search box over resolved tickets, published FAQ and archived
mail, ranked as the suggested replies rank them; each hit says where it came from and opens
its source. Staff only; managers-only archives reach managers alone."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state
from crm_app.layout import signed_in_page
from crm_app.services import archives, knowledge
from crm_app.services.knowledge import KnowledgeHit
from crm_app.state import AppState, service_event

KIND_CHOICES = {"All": "", "Archived email": "archive_message", "Tickets": "resolved_ticket",
                "FAQ": "faq"}  # fmt: skip


class KnowledgeState(AppState):
    query: str = ""
    kind: str = "All"
    hits: list[KnowledgeHit] = []
    searched: bool = False
    may_manage_archives: bool = False

    @service_event
    def load(self, actor: Actor):
        self.may_manage_archives = archives.may_manage_archives(actor)

    @rx.event
    def set_kind(self, value: str):
        self.kind = value if value in KIND_CHOICES else "All"

    @service_event
    def search(self, actor: Actor, form: dict):
        self.query = str(form.get("query", "")).strip()[:500]
        kind = KIND_CHOICES.get(self.kind, "")
        self.hits = knowledge.search_knowledge(
            actor, self.query, k=15, kinds=[kind] if kind else None
        )
        self.searched = True


def _hit(hit: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.badge(hit.kind_label, variant="soft"),
                rx.cond(
                    hit.link != "",
                    rx.link(hit.title, href=hit.link, weight="medium", class_name="knowledge-hit"),
                    rx.text(hit.title, weight="medium"),
                ),
                rx.spacer(),
                rx.text(hit.date, size="1", color_scheme="gray"),
                width="100%",
                align="center",
            ),
            rx.text(hit.snippet, size="2"),
            rx.cond(
                hit.kind == "archive_message",
                rx.text(
                    "From ",
                    hit.sender,
                    rx.cond(hit.folder != "", rx.text.span(" · folder ", hit.folder)),
                    rx.cond(hit.archives != "", rx.text.span(" · archive ", hit.archives)),
                    size="1",
                    color_scheme="gray",
                ),
            ),
            spacing="1",
            width="100%",
        ),
        width="100%",
    )


@signed_in_page(routes.KNOWLEDGE, "Knowledge", Action.VIEW_TICKETS, on_load=[KnowledgeState.load])
def knowledge_page() -> rx.Component:
    s = KnowledgeState
    return rx.vstack(
        rx.form(
            rx.hstack(
                rx.input(
                    name="query",
                    placeholder="Search past emails, resolved tickets and FAQ…",
                    id="knowledge-query",
                    width="32rem",
                    auto_focus=True,
                    required=True,
                ),
                rx.select(
                    list(KIND_CHOICES),
                    value=s.kind,
                    on_change=s.set_kind,
                    aria_label="Source",
                ),
                rx.button("Search", type="submit", id="knowledge-search"),
                rx.spacer(),
                rx.cond(
                    s.may_manage_archives,
                    rx.link("Archives", href=routes.ARCHIVES, size="2"),
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            on_submit=s.search,
            width="100%",
        ),
        rx.cond(
            s.hits.length() > 0,
            rx.vstack(rx.foreach(s.hits, _hit), spacing="2", width="100%", id="knowledge-hits"),
            rx.cond(
                s.searched,
                empty_state("search-x", "Nothing found", "Try other words or another source."),
                empty_state(
                    "book-open",
                    "Search the firm's knowledge",
                    "Archived email, resolved tickets and FAQ entries, as suggested replies see "
                    "them.",
                ),
            ),
        ),
        spacing="4",
        width="100%",
        max_width="1100px",
    )
