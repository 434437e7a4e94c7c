"""What a user sees when an event handler fails unexpectedly: a generic message, never a trace.

Also where a malformed event lands (an argument of the wrong type sent by a hand-made client):
Reflex raises while converting the payload, before the handler runs.
"""

from __future__ import annotations

import logging

import reflex as rx
from reflex.event import EventSpec

log = logging.getLogger("crm_app.events")

GENERIC_ERROR = "Something went wrong: the error was recorded. Please try again."
BAD_REQUEST = "That request was not understood, so nothing was changed."


def unexpected_error(event_name: str, exception: Exception) -> EventSpec:
    """A handler failed in a way no service foresaw: log it with the event's name and show
    the generic message (a malformed argument that slipped through gets the bad-request one)."""
    if isinstance(exception, (ValueError, TypeError, KeyError)):
        log.warning("event refused", extra={"event": event_name,
                                            "error": type(exception).__name__,
                                            "detail": str(exception)[:300]})
        return rx.toast.error(BAD_REQUEST, position="top-center")
    log.exception("event failed", extra={"event": event_name}, exc_info=exception)
    return rx.toast.error(GENERIC_ERROR, position="top-center")


def backend_exception_handler(exception: Exception) -> EventSpec:
    if isinstance(exception, (ValueError, TypeError, KeyError)):
        log.warning("event refused",
                    extra={"error": type(exception).__name__, "detail": str(exception)[:300]})
        return rx.toast.error(BAD_REQUEST, position="top-center")
    log.exception("event failed", exc_info=exception)
    return rx.toast.error(GENERIC_ERROR, position="top-center")
