"""What a user sees when an event handler fails unexpectedly: a generic message, never a trace.

Also where a malformed event lands: an argument of the wrong type is refused before the handler
runs (crm_app/auth/event_guard.py); a value of the right type but the wrong shape (a form field
holding an object, a rule path that does not exist) fails inside the handler with one of the
errors below, and is answered the same way. Both are logged with their traceback.
"""

from __future__ import annotations

import logging

import reflex as rx
from reflex.event import EventSpec

from crm_app.auth.event_guard import EventRefused

log = logging.getLogger("crm_app.events")

GENERIC_ERROR = "Something went wrong: the error was recorded. Please try again."
BAD_REQUEST = "That request was not understood, so nothing was changed."


_MALFORMED = (EventRefused, ValueError, TypeError, KeyError, IndexError, AttributeError)


def unexpected_error(event_name: str, exception: Exception) -> EventSpec:
    """A handler failed in a way no service foresaw: log it with the event's name and show
    the generic message (a malformed value that slipped through gets the bad-request one)."""
    log.error("event failed", extra={"event": event_name}, exc_info=exception)
    if isinstance(exception, _MALFORMED):
        return rx.toast.error(BAD_REQUEST, position="top-center")
    return rx.toast.error(GENERIC_ERROR, position="top-center")


def backend_exception_handler(exception: Exception) -> EventSpec:
    if isinstance(exception, EventRefused):
        log.warning("event refused", extra={"detail": str(exception)[:300]})
        return rx.toast.error(BAD_REQUEST, position="top-center")
    log.error("event failed", exc_info=exception)
    if isinstance(exception, _MALFORMED):
        return rx.toast.error(BAD_REQUEST, position="top-center")
    return rx.toast.error(GENERIC_ERROR, position="top-center")
