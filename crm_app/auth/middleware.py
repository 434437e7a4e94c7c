"""Every event, before its handler runs: who is signed in, and is this tab's page data theirs?

The session cookie is HttpOnly, so it reaches the backend only in the websocket handshake's
headers. Per event this middleware reads it there, resolves the live session once (the actor a
handler gets from `AppState.actor()`), and strips the app's private cookies from the headers the
state keeps, so no stored or sent state ever holds a token. Page data is stamped with the session
that loaded it; when the tab's session is a different one (signed out, expired, another user
signed in on this tab, or a bare tab token with no session) every page state is reset before
the event runs, so a hydrate never replays another session's data. Last, the event's arguments
are checked against its handler's type hints (crm_app/auth/event_guard.py).
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import TYPE_CHECKING

from reflex.istate.data import HeaderData
from reflex.middleware import Middleware

from crm_app.auth import ory
from crm_app.auth.cookies import SESSION_COOKIE, read_cookie, without_private_cookies
from crm_app.auth.event_guard import checked_payload
from crm_app.services import web_sessions

if TYPE_CHECKING:
    from reflex.app import App
    from reflex.state import BaseState, StateUpdate
    from reflex_base.event import Event

# The session of the event being processed (each event runs in its own task and context).
current_session: ContextVar[web_sessions.WebSession | None] = ContextVar(
    "current_session", default=None
)


def _session_token_from(event: Event) -> str:
    headers = event.router_data.get("headers") or {}
    return read_cookie(headers.get("cookie", ""), SESSION_COOKIE)


def _forget_private_cookies(state: BaseState) -> None:
    """Keep the app's HttpOnly cookies out of the headers the state stores (and would pickle
    into a disk or Redis state manager)."""
    headers = state.router_data.get("headers") or {}
    cookie_header = headers.get("cookie", "")
    kept = without_private_cookies(cookie_header) if cookie_header else ""
    if kept != cookie_header:
        state.router_data["headers"] = {**headers, "cookie": kept}
        state.rx_router_headers = HeaderData.from_router_data(state.router_data)


def _stop_background_work(token: str) -> None:
    """Cancel this tab's other running events (background imports, uploads, live loops): they
    hold the previous session's actor and would write its data into the reset page."""
    current = asyncio.current_task()
    marker = f"|{token}|"
    for task in asyncio.all_tasks():
        name = task.get_name()
        if task is not current and name.startswith("reflex_event|") and marker in name:
            task.cancel()


async def clear_page_data(root: BaseState) -> None:
    """Reset the signed-in state and every page state below it, loaded or not, after stopping
    the tab's background work."""
    from crm_app.state import AppState

    token = root.router.session.client_token
    if token:
        _stop_background_work(token)

    pending: list[type[BaseState]] = [AppState]
    while pending:
        cls = pending.pop()
        await root.get_state(cls)  # loads a substate kept by a disk or Redis state manager
        pending.extend(cls.get_substates())
    app_state = await root.get_state(AppState)
    app_state.reset()


class SessionMiddleware(Middleware):
    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        from crm_app.state import AppState

        app_state = await state.get_state(AppState)
        if event.router_data:
            # From the browser: its websocket handshake's cookie is the truth.
            # (In a thread, like every lookup here: the event loop serves the other tabs.)
            found = await asyncio.to_thread(
                web_sessions.session_for_token, _session_token_from(event)
            )
        else:
            # Chained by a handler (Reflex gives those no router data of their own) after an
            # event that was checked: the same session, re-checked by id for revocation.
            found = await asyncio.to_thread(web_sessions.session_by_id, app_state._session_id)
        if found is not None and ory.enabled():
            # A session opened by an Ory sign-in holds only while Kratos still says so.
            found = await asyncio.to_thread(ory.still_valid, found)
        _forget_private_cookies(state)
        current_session.set(found)
        stamp = found.session_id if found else 0
        if app_state._session_id != stamp:
            await clear_page_data(state)
            app_state._session_id = stamp
        # Last, so a refused event still left no other session's data behind.
        checked = checked_payload(type(state), event.name, event.payload)
        event.payload.clear()
        event.payload.update(checked)
        return None
