"""Form pieces: a labelled field, the account fields of setup and sign-up, and forms the
browser itself posts (for the auth endpoints that answer with a cookie)."""

from __future__ import annotations

import reflex as rx

from crm_app.services import accounts


def field(label: str, control: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", size="2", weight="medium"), control, spacing="1", width="100%"
    )


def account_fields() -> list[rx.Component]:
    """Full name, email and a new password: the first manager's and a sign-up's account."""
    return [
        field(
            "Full name",
            rx.input(name="name", id="name", required=True, auto_focus=True, width="100%"),
        ),
        field(
            "Email", rx.input(name="email", id="email", type="email", required=True, width="100%")
        ),
        field(
            accounts.PASSWORD_HINT,
            rx.input(
                name="password",
                id="password",
                type="password",
                required=True,
                min_length=accounts.MIN_PASSWORD_LENGTH,
                width="100%",
            ),
        ),
    ]


def native_form(*children: rx.Component, action: str, **props: object) -> rx.Component:
    """A form the browser itself posts (Reflex's forms prevent that unless told not to)."""
    return rx.el.form(*children, action=action, method="post", on_submit=None, **props)


def auth_form(action: str, *children: rx.Component) -> rx.Component:
    """A plain HTML form posting to an `/api/auth` endpoint, which answers with the session
    cookie and a redirect: the token never passes through page state or scripts."""
    return native_form(rx.vstack(*children, spacing="3", width="100%"), action=action, width="100%")
