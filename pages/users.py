"""Users & roles (managers only): every account and the role it holds, and the sign-in
throttles slowing attempts on an account or from an address (a manager may clear them)."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state
from crm_app.layout import signed_in_page
from crm_app.services import accounts
from crm_app.services.accounts import ThrottleRow, UserSummary
from crm_app.state import AppState, service_event
from models.user import Role

NO_ROLE = "no role"
ROLE_CHOICES = [NO_ROLE, *(r.value for r in Role)]


SCOPE_LABELS = {"account": "Account", "ip": "Client address", "device": "Known device"}


class UsersState(AppState):
    users: list[UserSummary] = []
    throttles: list[ThrottleRow] = []

    @service_event
    def load(self, actor: Actor):
        self.users = accounts.list_users(actor)
        self.throttles = accounts.list_throttles(actor)

    @service_event
    def clear_throttle(self, actor: Actor, throttle_id: int):
        if not isinstance(throttle_id, int) or isinstance(throttle_id, bool):
            return rx.toast.error("That throttle does not exist.", position="top-center")
        accounts.clear_throttle(actor, throttle_id)
        return [UsersState.load, rx.toast.success("Throttle cleared")]

    @service_event
    def assign(self, actor: Actor, user_id: int, role: str):
        user = accounts.assign_role(actor, user_id, None if role == NO_ROLE else role)
        return [UsersState.load, rx.toast.success(f"{user.name} is now {role}")]


def _row(user: UserSummary) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(user.name, weight="medium")),
        rx.table.cell(user.email),
        rx.table.cell(
            rx.select(
                ROLE_CHOICES,
                value=rx.cond(user.role, user.role.to(str), NO_ROLE),
                on_change=lambda role: UsersState.assign(user.id, role),
                aria_label="Role for " + user.email,
                size="1",
            )
        ),
        rx.table.cell(
            rx.cond(user.role, rx.text(""), rx.badge("waiting for a role", color_scheme="orange"))
        ),
        class_name="user-row",
        data_email=user.email,
    )


def _throttle_row(throttle: ThrottleRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.match(throttle.scope, *SCOPE_LABELS.items(), throttle.scope)),
        rx.table.cell(rx.text(throttle.subject, weight="medium")),
        rx.table.cell(throttle.failures),
        rx.table.cell(rx.moment(throttle.last_failure_at, from_now=True)),
        rx.table.cell(
            rx.cond(
                throttle.waiting,
                rx.badge(rx.moment(throttle.locked_until, from_now=True), color_scheme="red"),
                rx.text("can try now", color_scheme="gray"),
            )
        ),
        rx.table.cell(
            rx.button(
                "Clear",
                size="1",
                variant="soft",
                on_click=UsersState.clear_throttle(throttle.id),
                aria_label="Clear throttle for " + throttle.subject,
            )
        ),
        class_name="throttle-row",
        data_subject=throttle.subject,
    )


def _throttles() -> rx.Component:
    return rx.vstack(
        rx.heading("Sign-in throttles", size="4", id="throttles"),
        rx.text(
            "After a few failed sign-ins, each further attempt on an account or from an "
            "address must wait, the wait doubling each time. Browsers that signed in "
            "before are not held back. Clear a throttle once you know who was trying.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            UsersState.throttles.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in (
                                "Kind",
                                "Account or address",
                                "Failures",
                                "Last failure",
                                "Next attempt",
                                "",
                            )
                        ]
                    )
                ),
                rx.table.body(rx.foreach(UsersState.throttles, _throttle_row)),
                width="100%",
                variant="surface",
            ),
            empty_state(
                "shield-check",
                "No throttles",
                "No failed sign-ins are counting against any account or address.",
            ),
        ),
        width="100%",
        spacing="3",
    )


@signed_in_page(routes.USERS, "Users & roles", Action.MANAGE_USERS, on_load=[UsersState.load])
def users_page() -> rx.Component:
    return rx.vstack(
        rx.cond(
            UsersState.users.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[rx.table.column_header_cell(h) for h in ("Name", "Email", "Role", "")]
                    )
                ),
                rx.table.body(rx.foreach(UsersState.users, _row)),
                width="100%",
                variant="surface",
            ),
            empty_state("users", "No users", "Accounts appear here once people sign up."),
        ),
        _throttles(),
        width="100%",
        spacing="6",
    )
