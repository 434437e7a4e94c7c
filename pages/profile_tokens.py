"""The profile page's "API tokens" section: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from crm_app.auth.permissions import Actor
from crm_app.components import confirm_dialog, field
from crm_app.services import api_tokens
from crm_app.state import AppState, service_event

SCOPES = ("read", "write")
DAY_CHOICES = ("7", "30", "90", "180", "365")


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    prefix: str
    scope: str
    created: str
    expires: str
    last_used: str
    state: str  # active, expired or revoked


def _view(row: api_tokens.TokenRow) -> TokenView:
    state = "revoked" if row.revoked else "active" if row.active else "expired"
    return TokenView(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scope=row.scope,
        created=f"{row.created_at:%Y-%m-%d}",
        expires=f"{row.expires_at:%Y-%m-%d}",
        last_used=f"{row.last_used_at:%Y-%m-%d %H:%M} UTC" if row.last_used_at else "never",
        state=state,
    )


class ProfileTokensState(AppState):
    tokens: list[TokenView] = []
    token_name: str = ""
    token_scope: str = "read"
    token_days: str = "90"
    # The secret of the token just created: shown until dismissed or the page is left.
    new_token: str = ""

    @service_event
    def load_tokens(self):
        """On the profile page's load: a signed-out visitor is sent on by the page itself."""
        self.new_token = ""
        actor = self.actor()
        self.tokens = [_view(row) for row in api_tokens.list_tokens(actor)] if actor else []

    @rx.event
    def set_token_name(self, value: str):
        self.token_name = str(value or "")[:100]

    @rx.event
    def set_token_scope(self, value: str):
        self.token_scope = value if value in SCOPES else "read"

    @rx.event
    def set_token_days(self, value: str):
        self.token_days = value if value in DAY_CHOICES else "90"

    @service_event
    def create_token(self, actor: Actor):
        created = api_tokens.create_token(
            actor, self.token_name, self.token_scope, int(self.token_days)
        )
        self.tokens = [_view(row) for row in api_tokens.list_tokens(actor)]
        self.new_token = created.token
        self.token_name = ""

    @rx.event
    def dismiss_token(self):
        self.new_token = ""

    @service_event
    def revoke_token(self, actor: Actor, token_id: int):
        api_tokens.revoke_token(actor, token_id)
        self.tokens = [_view(row) for row in api_tokens.list_tokens(actor)]
        return rx.toast.success("Token revoked")


def _select(options: tuple[str, ...], value: rx.Var, on_change, element_id: str, label: str):
    return rx.select(
        list(options), value=value, on_change=on_change, id=element_id, aria_label=label
    )


def _new_token_callout() -> rx.Component:
    return rx.cond(
        ProfileTokensState.new_token != "",
        rx.callout(
            rx.vstack(
                rx.text("Copy this token now: it will not be shown again.", weight="bold"),
                rx.code(
                    ProfileTokensState.new_token, id="new-token", style={"word_break": "break-all"}
                ),
                rx.hstack(
                    rx.button(
                        "Copy",
                        size="1",
                        on_click=rx.set_clipboard(ProfileTokensState.new_token),
                    ),
                    rx.button(
                        "Done",
                        size="1",
                        variant="soft",
                        on_click=ProfileTokensState.dismiss_token,
                        id="dismiss-token",
                    ),
                ),
                spacing="2",
            ),
            icon="key-round",
            color_scheme="green",
            width="100%",
        ),
    )


def _token_row(token: TokenView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(token.name), rx.code(token.prefix + "…"), spacing="1")),
        rx.table.cell(token.scope),
        rx.table.cell(token.expires),
        rx.table.cell(token.last_used),
        rx.table.cell(
            rx.cond(
                token.state == "active",
                confirm_dialog(
                    rx.button("Revoke", size="1", color_scheme="red", variant="soft"),
                    "Revoke this token?",
                    "Scripts using it stop working at their next request.",
                    confirm_label="Revoke",
                    on_confirm=ProfileTokensState.revoke_token(token.id),
                ),
                rx.badge(token.state, color_scheme="gray"),
            )
        ),
    )


def api_tokens_section() -> rx.Component:
    """For the profile page (which loads `ProfileTokensState.load_tokens`)."""
    return rx.card(
        rx.vstack(
            rx.heading("API tokens", size="4"),
            rx.text(
                "Tokens let scripts and integrations use the REST API (/api/v1) as you, with "
                "your role. A read token can only read.",
                size="2",
                color_scheme="gray",
            ),
            _new_token_callout(),
            rx.hstack(
                field(
                    "Name",
                    rx.input(
                        value=ProfileTokensState.token_name,
                        on_change=ProfileTokensState.set_token_name,
                        placeholder="e.g. website form",
                        id="token-name",
                        max_length=100,
                    ),
                ),
                field(
                    "Scope",
                    _select(
                        SCOPES,
                        ProfileTokensState.token_scope,
                        ProfileTokensState.set_token_scope,
                        "token-scope",
                        "Scope",
                    ),
                ),
                field(
                    "Days",
                    _select(
                        DAY_CHOICES,
                        ProfileTokensState.token_days,
                        ProfileTokensState.set_token_days,
                        "token-days",
                        "Days until it expires",
                    ),
                ),
                rx.button(
                    "Create token", on_click=ProfileTokensState.create_token, id="create-token"
                ),
                align="end",
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(
                ProfileTokensState.tokens.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Token"),
                            rx.table.column_header_cell("Scope"),
                            rx.table.column_header_cell("Expires"),
                            rx.table.column_header_cell("Last used"),
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(ProfileTokensState.tokens, _token_row)),
                    width="100%",
                ),
                rx.text("No tokens yet.", size="2", color_scheme="gray", id="no-tokens"),
            ),
            spacing="3",
            width="100%",
        ),
        max_width="48rem",
        width="100%",
    )
