"""Teams (managers): named groups of agents the dashboards filter by. Create, rename and
delete teams; add members by typing part of a name or email (the whole staff is searched,
keyed by user id), remove them with their chip's ×."""

from __future__ import annotations

from typing import Any

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import (
    confirm_dialog,
    empty_state,
    form_error,
    options_listbox,
    removable_chip,
    search_input,
)
from crm_app.layout import signed_in_page
from crm_app.services import teams as team_service
from crm_app.services.teams import TeamMemberRow, TeamRow
from crm_app.state import AppState, service_event

SEARCH_DEBOUNCE_MS = 250


class TeamsState(AppState):
    teams: list[TeamRow] = []
    selected_id: int = 0
    rename_to: str = ""
    new_name: str = ""
    query: str = ""
    matches: list[TeamMemberRow] = []
    form_error: str = ""

    def _reload(self, actor: Actor) -> None:
        self.teams = team_service.list_teams(actor)
        if self.selected_id and self._selected() is None:
            self.selected_id = 0
        if not self.selected_id and self.teams:
            self.selected_id = self.teams[0].id
        chosen = self._selected()
        self.rename_to = chosen.name if chosen else ""

    def _selected(self) -> TeamRow | None:
        return next((t for t in self.teams if t.id == self.selected_id), None)

    def _member_ids(self) -> list[int]:
        chosen = self._selected()
        return [m.user_id for m in chosen.members] if chosen else []

    @rx.var
    def members(self) -> list[TeamMemberRow]:
        chosen = self._selected()
        return list(chosen.members) if chosen else []

    @rx.var
    def selected_name(self) -> str:
        chosen = self._selected()
        return chosen.name if chosen else ""

    @service_event(error_var="form_error")
    def load(self, actor: Actor):
        self.form_error = ""
        self.query, self.matches = "", []
        self._reload(actor)

    @rx.event
    def set_new_name(self, value: str):
        self.new_name = str(value)[: team_service.MAX_NAME + 20]

    @rx.event
    def set_rename_to(self, value: str):
        self.rename_to = str(value)[: team_service.MAX_NAME + 20]

    @service_event(error_var="form_error")
    def select(self, actor: Actor, team_id: int):
        self.selected_id = int(team_id)
        self.form_error, self.query, self.matches = "", "", []
        self._reload(actor)

    @service_event(error_var="form_error")
    def create(self, actor: Actor, form_data: dict[str, Any]):
        team = team_service.create_team(actor, self.new_name)
        self.new_name, self.form_error = "", ""
        self.selected_id = team.id
        self._reload(actor)
        return rx.toast.success(f"Team “{team.name}” created: now add its members.")

    @service_event(error_var="form_error")
    def rename(self, actor: Actor):
        team_service.rename_team(actor, self.selected_id, self.rename_to)
        self.form_error = ""
        self._reload(actor)
        return rx.toast.success("Team renamed")

    @service_event(error_var="form_error")
    def delete(self, actor: Actor):
        team_service.delete_team(actor, self.selected_id)
        self.selected_id, self.form_error = 0, ""
        self._reload(actor)
        return rx.toast.success("Team deleted")

    @service_event(error_var="form_error")
    def search(self, actor: Actor, value: str):
        self.query = str(value)[:100]
        taken = set(self._member_ids())
        self.matches = [
            m for m in team_service.search_staff(actor, self.query, 12) if m.user_id not in taken
        ][:8]

    @service_event(error_var="form_error")
    def add_member(self, actor: Actor, user_id: int):
        team_service.set_members(actor, self.selected_id, [*self._member_ids(), int(user_id)])
        self.form_error, self.query, self.matches = "", "", []
        self._reload(actor)

    @service_event(error_var="form_error")
    def remove_member(self, actor: Actor, user_id: int):
        remaining = [u for u in self._member_ids() if u != int(user_id)]
        team_service.set_members(actor, self.selected_id, remaining)
        self.form_error = ""
        self._reload(actor)


T = TeamsState


def _team_item(team: TeamRow) -> rx.Component:
    active = T.selected_id == team.id
    return rx.button(
        rx.text(team.name, weight="medium", truncate=True),
        rx.spacer(),
        rx.badge(team.members.length(), variant="soft", color_scheme="gray"),
        on_click=T.select(team.id),
        variant=rx.cond(active, "solid", "soft"),
        color_scheme=rx.cond(active, "indigo", "gray"),
        width="100%",
        justify="start",
        class_name="team-item",
        aria_pressed=active,
    )


def _match(person: TeamMemberRow) -> rx.Component:
    # A button per person: Tab reaches it, Enter or Space adds them.
    return rx.button(
        rx.text(person.name, size="2", weight="medium"),
        rx.text(person.email, size="1", color_scheme="gray"),
        role="option",
        class_name="member-match",
        on_click=T.add_member(person.user_id),
        variant="ghost",
        width="100%",
        justify="start",
        spacing="3",
        padding="0.4rem 0.6rem",
        height="auto",
        radius="none",
    )


def _member_picker() -> rx.Component:
    return rx.box(
        search_input(
            value=T.query,
            on_change=T.search,
            debounce_ms=SEARCH_DEBOUNCE_MS,
            placeholder="Add a member: type part of a name or email…",
            id="member-search",
            role="combobox",
            aria_controls="member-options",
            aria_autocomplete="list",
            aria_label="Add a member",
        ),
        rx.cond(
            T.query != "",
            options_listbox(
                rx.foreach(T.matches, _match),
                none_found=T.matches.length() == 0,
                none_text="No agent or manager matches (members already in the team are hidden).",
                listbox_id="member-options",
            ),
        ),
        width="100%",
        max_width="32rem",
    )


def _editor() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.input(
                    value=T.rename_to,
                    on_change=T.set_rename_to,
                    aria_label="Team name",
                    id="team-name",
                    max_length=team_service.MAX_NAME,
                    width="20rem",
                ),
                rx.button("Rename", variant="soft", on_click=T.rename, id="team-rename"),
                rx.spacer(),
                confirm_dialog(
                    rx.button(
                        rx.icon("trash-2", size=14),
                        "Delete team",
                        variant="soft",
                        color_scheme="red",
                        id="team-delete",
                    ),
                    "Delete this team?",
                    "The team goes; its members keep their accounts and tickets.",
                    confirm_label="Delete",
                    on_confirm=T.delete,
                    confirm_id="team-delete-confirm",
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            rx.text("Members", weight="bold", size="2"),
            rx.cond(
                T.members.length() > 0,
                rx.flex(
                    rx.foreach(
                        T.members,
                        lambda m: removable_chip(
                            m.name,
                            T.remove_member(m.user_id),
                            "Remove " + m.name,
                            size="2",
                            class_name="team-member",
                            title=m.email,
                        ),
                    ),
                    wrap="wrap",
                    spacing="2",
                    id="team-members",
                ),
                rx.text(
                    "No members yet: the dashboard shows an empty team as empty.",
                    size="2",
                    color_scheme="gray",
                    id="team-members-empty",
                ),
            ),
            _member_picker(),
            spacing="3",
            width="100%",
        ),
        flex="1",
        min_width="0",
    )


@signed_in_page(routes.TEAMS, "Teams", Action.MANAGE_TEAMS, on_load=[T.load])
def teams_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Teams", size="6"),
        rx.text(
            "Group agents into teams to filter the dashboard and the SLA warnings by team. "
            "Someone may be in several teams.",
            size="2",
            color_scheme="gray",
        ),
        rx.form(
            rx.hstack(
                rx.input(
                    value=T.new_name,
                    on_change=T.set_new_name,
                    placeholder="New team name",
                    aria_label="New team name",
                    id="new-team-name",
                    max_length=team_service.MAX_NAME,
                    width="20rem",
                ),
                rx.button(rx.icon("plus", size=14), "Create team", type="submit", id="team-create"),
                align="center",
            ),
            on_submit=T.create,
            reset_on_submit=False,
        ),
        form_error(T.form_error),
        rx.cond(
            T.teams.length() > 0,
            rx.hstack(
                rx.vstack(
                    rx.foreach(T.teams, _team_item),
                    width="16rem",
                    min_width="16rem",
                    spacing="1",
                    id="team-list",
                ),
                _editor(),
                width="100%",
                align="start",
                spacing="4",
            ),
            empty_state(
                "users",
                "No teams yet",
                "Create a team above, then add its members by name or email.",
            ),
        ),
        spacing="4",
        width="100%",
        max_width="72rem",
    )
