"""AppState: the signed-in user and the permission helper every page state builds on."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

import reflex as rx

from crm_app import routes
from crm_app.auth.middleware import current_session
from crm_app.auth.permissions import ROLE_ACTIONS, Action, Actor, can
from crm_app.crypto import signed_by_app
from crm_app.errors_ui import unexpected_error
from crm_app.navigation import home_for
from crm_app.off_loop import OFF_LOOP
from crm_app.services import accounts, web_sessions
from crm_app.services.errors import NotAuthenticated, ServiceError


class AppState(rx.State):
    """Who is signed in. The session lives in an HttpOnly cookie that page scripts cannot
    read; the state knows the session only by its row id, stamped by SessionMiddleware."""

    # The session this tab's page data was loaded under (a row id, not a credential).
    _session_id: int = 0
    user_name: str = ""
    user_email: str = ""
    user_role: str = ""
    access_ok: bool = False

    def actor(self) -> Actor | None:
        """The acting user, resolved from the session cookie once per event by
        SessionMiddleware (so a revoked or expired session stops at its next event)."""
        found = current_session.get()
        return found.actor if found is not None and found.session_id == self._session_id else None

    def live_actor(self) -> Actor | None:
        """The acting user re-checked by session id, for background loops that outlive the
        event that started them."""
        return web_sessions.actor_for_session(self._session_id)

    def form_error_from_query(self) -> str:
        """The message an auth form post sent back, if the app signed it (a crafted link
        cannot put words on the page)."""
        query = self.router.url.query_parameters
        message, signature = str(query.get("error", "")), str(query.get("sig", ""))
        return message[:300] if message and signed_by_app(message, signature) else ""

    def require_actor(self) -> Actor:
        actor = self.actor()
        if actor is None:
            raise NotAuthenticated("Your session has ended: please sign in again.")
        return actor

    def _remember(self, actor: Actor | None) -> None:
        self.user_name = actor.name if actor else ""
        self.user_email = actor.email if actor else ""
        self.user_role = (actor.role or "") if actor else ""

    @rx.var
    def signed_in(self) -> bool:
        return bool(self.user_email)

    @rx.var
    def user_initials(self) -> str:
        return "".join(part[0] for part in self.user_name.split()[:2]).upper() or "?"

    @rx.var
    def allowed_actions(self) -> list[str]:
        """What the signed-in user may do, from the permission table (for showing and hiding;
        the services check again)."""
        return sorted(ROLE_ACTIONS.get(self.user_role, frozenset()))

    def _can(self, action: Action) -> bool:
        """In a handler or computed var: whether the signed-in user may take `action`."""
        return action in ROLE_ACTIONS.get(self.user_role, frozenset())

    @classmethod
    def may(cls, action: Action) -> rx.Var[bool]:
        """In a component: whether the signed-in user may take `action`. Pages use this, not a
        computed var on their own state: a computed var that reads this state's user makes
        Reflex load that page's state for every event of every page of the tab (test:
        tests/test_state_loading.py)."""
        return cls.allowed_actions.contains(action.value)

    @rx.event
    def guard(self, action: str):
        """on_load of every signed-in page: send the visitor where they belong."""
        self.access_ok = False
        actor = self.actor()
        self._remember(actor)
        if actor is None:
            return rx.redirect(routes.SETUP if accounts.needs_setup() else routes.LOGIN)
        if not actor.role:
            return rx.redirect(routes.WAITING)
        if not can(actor, Action(action)):
            return rx.redirect(home_for(actor))
        self.access_ok = True
        return None

    @rx.event
    def identify(self):
        """Pages open to anyone (not found): show the shell to a signed-in user with a role."""
        actor = self.actor()
        self._remember(actor)
        self.access_ok = actor is not None and bool(actor.role)

    @rx.event
    def route_home(self):
        """`/`: to the setup wizard, the login, the waiting page or the role's first page."""
        actor = self.actor()
        self._remember(actor)
        if actor is None:
            return rx.redirect(routes.SETUP if accounts.needs_setup() else routes.LOGIN)
        return rx.redirect(home_for(actor))

    @rx.event
    def check_waiting(self):
        """The waiting page: leave it as soon as a manager has assigned a role."""
        actor = self.actor()
        self._remember(actor)
        if actor is None:
            return rx.redirect(routes.LOGIN)
        if actor.role:
            return rx.redirect(home_for(actor))
        return None


def chain(*events: object) -> list:
    """Events to return from a handler, without the Nones that helpers return on success
    (Reflex refuses a None inside a returned list)."""
    return [event for event in events if event is not None]


def error_toast(error: ServiceError):
    return rx.toast.error(error.message, position="top-center")


_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def service_event(
    fn: Callable[..., Any] | None = None,
    *,
    error_var: str | None = None,
    on_error: str | None = None,
    **event_options: Any,
) -> Any:
    """`@rx.event` for a handler that calls services, without the error plumbing.

    - A handler whose first argument after `self` is named `actor` gets the signed-in actor
      (resolved once per event by SessionMiddleware); a signed-out tab gets the "please sign in
      again" toast and the handler does not run. `actor` is not part of the event's arguments:
      no browser can send one.
    - A `ServiceError` becomes the user-facing toast, or, with `error_var="form_error"`, the
      text of that var (for a callout in a form); with `on_error="_method"`, what that method
      returns when given the message (a page that also clears what it showed).
    - Anything else is logged with the event's name and shows the generic error, never a trace.

    Signature and type hints stay those of the handler (minus `actor`), so Reflex's argument
    conversion and the event guard check the arguments a browser sends against them.
    """

    def decorate(handler: _Handler) -> _Handler:
        signature = inspect.signature(handler)
        params = list(signature.parameters.values())
        wants_actor = len(params) > 1 and params[1].name == "actor"
        event_name = f"{handler.__module__}.{handler.__qualname__}"

        def failed(self: AppState, error: Exception) -> Any:
            if isinstance(error, ServiceError):
                if on_error is not None:
                    return getattr(self, on_error)(error.message)
                if error_var is not None:
                    setattr(self, error_var, error.message)
                    return None
                return error_toast(error)
            return unexpected_error(event_name, error)

        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def run_async(self: AppState, *args: Any, **kwargs: Any) -> Any:
                try:
                    if wants_actor:
                        return await handler(self, self.require_actor(), *args, **kwargs)
                    return await handler(self, *args, **kwargs)
                except Exception as error:
                    return failed(self, error)

            wrapper: Any = run_async
        else:

            @functools.wraps(handler)
            def run(self: AppState, *args: Any, **kwargs: Any) -> Any:
                try:
                    if wants_actor:
                        return handler(self, self.require_actor(), *args, **kwargs)
                    return handler(self, *args, **kwargs)
                except Exception as error:
                    return failed(self, error)

            if not inspect.isgeneratorfunction(handler):  # a generator's steps stay on the loop
                setattr(run, OFF_LOOP, True)  # run in a thread (crm_app/off_loop.py)
            wrapper = run

        if wants_actor:
            # What a browser may send: the handler's arguments without the injected actor.
            wrapper.__signature__ = signature.replace(parameters=[params[0], *params[2:]])
            wrapper.__annotations__ = {
                name: hint for name, hint in handler.__annotations__.items() if name != "actor"
            }
        # rx.event wraps it for Reflex; callers keep using it as the handler it was.
        return cast(_Handler, rx.event(wrapper, **event_options))

    return decorate(fn) if fn is not None else decorate
