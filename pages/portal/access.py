"""Getting into the portal: sign in, ask for access (self sign-up by the address on the client
record), forgot password, and the set-password page every mailed link opens. Signing in and
setting a password are plain form posts to `/api/auth/*` (the session cookie never passes
through page state)."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.components import auth_form, field, form_error
from crm_app.services import accounts, invitations
from crm_app.services.errors import ServiceError
from crm_app.state import AppState, service_event
from models.portal import LinkPurpose
from pages.portal.layout import portal_card_page


def _email_input(**props: object) -> rx.Component:
    return rx.input(
        name="email",
        id="email",
        type="email",
        required=True,
        width="100%",
        auto_complete="username",
        **props,
    )


def _notice(text: rx.Var[str], notice_id: str) -> rx.Component:
    return rx.cond(
        text != "",
        rx.callout(
            text, icon="mail-check", color_scheme="green", role="status", id=notice_id, width="100%"
        ),
    )


class PortalLoginState(AppState):
    error: str = ""
    sign_up_open: bool = False

    @rx.event
    def check(self):
        self.error = self.form_error_from_query()
        self.sign_up_open = invitations.portal_sign_up_open()
        if self.actor() is not None:
            return rx.redirect(routes.HOME)
        return None


@rx.page(route=routes.PORTAL_LOGIN, title="Sign in · Client portal", on_load=PortalLoginState.check)
def portal_login_page() -> rx.Component:
    return portal_card_page(
        "Sign in to your portal",
        auth_form(
            routes.API_AUTH_LOGIN,
            rx.el.input(type="hidden", name="next", value=routes.PORTAL),
            field("Email", _email_input(auto_focus=True)),
            field(
                "Password",
                rx.input(
                    name="password",
                    id="password",
                    type="password",
                    required=True,
                    width="100%",
                    auto_complete="current-password",
                ),
            ),
            form_error(PortalLoginState.error),
            rx.button("Sign in", type="submit", width="100%"),
        ),
        rx.link("Forgot your password?", href=routes.PORTAL_FORGOT, size="2", id="forgot-link"),
        rx.cond(
            PortalLoginState.sign_up_open,
            rx.text(
                "First time here? ", rx.link("Get access", href=routes.PORTAL_SIGNUP), size="2"
            ),
            rx.text(
                "First time here? Your advisor sends you an invitation by email.",
                size="2",
                color_scheme="gray",
            ),
        ),
    )


class PortalRequestLinkState(AppState):
    """The two forms that mail a link: forgot password and get access."""

    error: str = ""
    notice: str = ""
    sign_up_open: bool = False

    @rx.event
    def open_form(self):
        self.error = self.notice = ""
        self.sign_up_open = invitations.portal_sign_up_open()

    @service_event(error_var="error")
    def forgot(self, form: dict):
        self.error = self.notice = ""
        invitations.request_password_reset(str(form.get("email", "")))
        self.notice = invitations.REQUEST_SENT

    @service_event(error_var="error")
    def ask_access(self, form: dict):
        self.error = self.notice = ""
        invitations.request_portal_access(str(form.get("email", "")))
        self.notice = invitations.REQUEST_SENT


def _link_form(on_submit: object, button: str) -> rx.Component:
    return rx.form(
        rx.vstack(
            field("Email", _email_input(auto_focus=True)),
            form_error(PortalRequestLinkState.error),
            _notice(PortalRequestLinkState.notice, "link-notice"),
            rx.button(button, type="submit", width="100%"),
            spacing="3",
        ),
        on_submit=on_submit,
        reset_on_submit=True,
    )


@rx.page(
    route=routes.PORTAL_FORGOT,
    title="Reset password · Client portal",
    on_load=PortalRequestLinkState.open_form,
)
def portal_forgot_page() -> rx.Component:
    return portal_card_page(
        "Forgot your password?",
        rx.text("We mail you a link to choose a new one.", size="2"),
        _link_form(PortalRequestLinkState.forgot, "Send reset link"),
        rx.link("Back to sign in", href=routes.PORTAL_LOGIN, size="2"),
    )


@rx.page(
    route=routes.PORTAL_SIGNUP,
    title="Get access · Client portal",
    on_load=PortalRequestLinkState.open_form,
)
def portal_signup_page() -> rx.Component:
    return portal_card_page(
        "Get access to your portal",
        rx.cond(
            PortalRequestLinkState.sign_up_open,
            rx.vstack(
                rx.text(
                    "Enter the email address your advisor has on file for you. We mail it a "
                    "link to choose your password.",
                    size="2",
                ),
                _link_form(PortalRequestLinkState.ask_access, "Send me a link"),
                width="100%",
            ),
            rx.callout(
                "Access is by invitation: ask your advisor to send you one.",
                icon="info",
                width="100%",
            ),
        ),
        rx.link("Back to sign in", href=routes.PORTAL_LOGIN, size="2"),
    )


class SetPasswordState(AppState):
    link_token: str = ""
    purpose: str = ""
    email: str = ""
    name: str = ""
    problem: str = ""  # the link is unusable
    error: str = ""

    @rx.event
    def load(self):
        self.error = self.form_error_from_query()
        self.problem = ""
        token = str(self.router.url.query_parameters.get("token", ""))[:200]
        try:
            info = invitations.describe_link(token)
        except ServiceError as error:
            self.link_token, self.purpose, self.email, self.name = "", "", "", ""
            self.problem = error.message
            return
        self.link_token, self.purpose = token, info.purpose
        self.email, self.name = info.email, info.name

    @rx.var
    def new_account(self) -> bool:
        return self.purpose in (LinkPurpose.INVITE.value, LinkPurpose.SIGN_UP.value)


@rx.page(
    route=routes.PORTAL_SET_PASSWORD,
    title="Choose a password · Client portal",
    on_load=SetPasswordState.load,
)
def set_password_page() -> rx.Component:
    s = SetPasswordState
    return portal_card_page(
        rx.cond(s.new_account, "Open your portal account", "Choose a new password"),
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
                rx.link("Back to sign in", href=routes.PORTAL_LOGIN, size="2"),
                width="100%",
            ),
            auth_form(
                routes.API_AUTH_SET_PASSWORD,
                rx.el.input(type="hidden", name="token", value=s.link_token),
                rx.text("Account: ", rx.text.strong(s.email), size="2", id="link-email"),
                rx.cond(
                    s.new_account,
                    field(
                        "Your name",
                        rx.input(
                            name="name",
                            id="name",
                            default_value=s.name,
                            required=True,
                            width="100%",
                        ),
                    ),
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
