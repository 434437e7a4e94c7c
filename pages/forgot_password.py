"""Staff password reset: "Forgot password?" on the sign-in page mails a one-time link (the
portal's recovery service, `invitations.request_password_reset`: the same answer whether or
not the address has an account, the same expiry), and the link opens `/reset-password`, which
posts the new password to `/api/auth/set-password` (the session cookie never passes through
page state). With Ory only, Ory's recovery page does it."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth import ory
from crm_app.components import auth_form, field, form_error
from crm_app.layout import public_page
from crm_app.services import accounts, invitations
from crm_app.services.errors import ServiceError
from crm_app.state import AppState, service_event
from models.portal import LinkPurpose


class ForgotPasswordState(AppState):
    error: str = ""
    notice: str = ""

    @rx.event
    def open_form(self):
        self.error = self.notice = ""
        if not ory.builtin_allowed():
            return rx.redirect(routes.ORY_RECOVERY)
        return None

    @service_event(error_var="error")
    def send_link(self, form: dict):
        self.error = self.notice = ""
        invitations.request_password_reset(str(form.get("email", "")))
        self.notice = invitations.REQUEST_SENT


@rx.page(
    route=routes.FORGOT_PASSWORD,
    title="Reset password · Finance CRM",
    on_load=ForgotPasswordState.open_form,
)
def forgot_password_page() -> rx.Component:
    s = ForgotPasswordState
    return public_page(
        "Forgot your password?",
        rx.text("We mail you a link to choose a new one.", size="2"),
        rx.form(
            rx.vstack(
                field(
                    "Email",
                    rx.input(
                        name="email",
                        id="email",
                        type="email",
                        required=True,
                        auto_focus=True,
                        width="100%",
                        auto_complete="username",
                    ),
                ),
                form_error(s.error),
                rx.cond(
                    s.notice != "",
                    rx.callout(
                        s.notice,
                        icon="mail-check",
                        color_scheme="green",
                        role="status",
                        id="link-notice",
                        width="100%",
                    ),
                ),
                rx.button("Send reset link", type="submit", width="100%", id="send-reset-link"),
                spacing="3",
            ),
            on_submit=s.send_link,
            reset_on_submit=True,
        ),
        rx.link("Back to sign in", href=routes.LOGIN, size="2"),
    )


class ResetPasswordState(AppState):
    link_token: str = ""
    email: str = ""
    problem: str = ""  # the link is unusable
    error: str = ""

    @rx.event
    def load(self):
        self.error = self.form_error_from_query()
        self.problem = ""
        token = str(self.router.url.query_parameters.get("token", ""))[:200]
        try:
            info = invitations.describe_link(token)
            if info.purpose != LinkPurpose.PASSWORD_RESET.value:
                raise ServiceError(invitations.LINK_GONE)
        except ServiceError as error:
            self.link_token = self.email = ""
            self.problem = error.message
            return
        self.link_token, self.email = token, info.email


@rx.page(
    route=routes.RESET_PASSWORD,
    title="Choose a new password · Finance CRM",
    on_load=ResetPasswordState.load,
)
def reset_password_page() -> rx.Component:
    s = ResetPasswordState
    return public_page(
        "Choose a new password",
        rx.cond(
            s.problem != "",
            rx.vstack(
                rx.callout(
                    s.problem,
                    icon="triangle-alert",
                    color_scheme="red",
                    role="alert",
                    id="link-problem",
                    width="100%",
                ),
                rx.link("Ask for a new link", href=routes.FORGOT_PASSWORD, size="2"),
                width="100%",
            ),
            auth_form(
                routes.API_AUTH_SET_PASSWORD,
                rx.el.input(type="hidden", name="token", value=s.link_token),
                rx.el.input(type="hidden", name="form", value="staff"),
                rx.text("Account: ", rx.text.strong(s.email), size="2", id="link-email"),
                field(
                    accounts.PASSWORD_HINT,
                    rx.input(
                        name="password",
                        id="password",
                        type="password",
                        required=True,
                        min_length=accounts.MIN_PASSWORD_LENGTH,
                        width="100%",
                        auto_complete="new-password",
                        auto_focus=True,
                    ),
                ),
                form_error(s.error),
                rx.button(
                    "Save password and sign in", type="submit", width="100%", id="set-password"
                ),
            ),
        ),
    )
