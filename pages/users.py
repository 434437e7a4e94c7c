"""Users & roles (managers only): every account and the role it holds."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.layout import empty_state, signed_in_page
from crm_app.services import accounts
from crm_app.services.accounts import UserSummary
from crm_app.services.errors import ServiceError
from crm_app.state import AppState, error_toast
from models.user import Role

NO_ROLE = "no role"
ROLE_CHOICES = [NO_ROLE, *(r.value for r in Role)]


class UsersState(AppState):
    users: list[UserSummary] = []

    @rx.event
    def load(self):
        try:
            self.users = accounts.list_users(self.require_actor())
        except ServiceError as error:
            return error_toast(error)
        return None

    @rx.event
    def assign(self, user_id: int, role: str):
        try:
            user = accounts.assign_role(self.require_actor(), user_id,
                                        None if role == NO_ROLE else role)
        except ServiceError as error:
            return error_toast(error)
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
        rx.table.cell(rx.cond(user.role, rx.text(""),
                              rx.badge("waiting for a role", color_scheme="orange"))),
        class_name="user-row",
        data_email=user.email,
    )


@signed_in_page(routes.USERS, "Users & roles", Action.MANAGE_USERS, on_load=[UsersState.load])
def users_page() -> rx.Component:
    return rx.cond(
        UsersState.users.length() > 0,
        rx.table.root(
            rx.table.header(rx.table.row(*[
                rx.table.column_header_cell(h) for h in ("Name", "Email", "Role", "")
            ])),
            rx.table.body(rx.foreach(UsersState.users, _row)),
            width="100%",
            variant="surface",
        ),
        empty_state("users", "No users", "Accounts appear here once people sign up."),
    )
