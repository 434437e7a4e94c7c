"""Plain service handlers wait for the database in a thread, so one agent's slow query does not
stop every other tab on the same web worker (crm_app/off_loop.py)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from contextvars import ContextVar
from types import SimpleNamespace

from crm_app.off_loop import OFF_LOOP, _InThread
from pages.ticket.state import TicketState
from pages.tickets.state import TicketsState
from tests.factories import run_async

who: ContextVar[str] = ContextVar("who", default="nobody")


def test_plain_service_handlers_are_marked_and_async_and_background_ones_are_not() -> None:
    handlers = {**TicketsState.event_handlers, **TicketState.event_handlers}
    assert getattr(handlers["set_filter"].fn, OFF_LOOP, False)  # a query per call
    assert getattr(handlers["send"].fn, OFF_LOOP, False)  # the reply's write
    for name in ("live_loop", "receive_files"):  # async: on the loop, as Reflex runs them
        fn = handlers[name].fn
        assert inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        assert not getattr(handlers[name].fn, OFF_LOOP, False)


def test_a_marked_handler_runs_in_a_thread_with_the_event_context_and_the_loop_moves_on() -> None:
    seen: dict[str, object] = {}
    loop_moved = threading.Event()  # only the event loop sets it, while the handler waits

    def slow_handler(state: object, value: int) -> str:
        seen["thread"], seen["who"] = threading.get_ident(), who.get()
        seen["loop_moved"] = loop_moved.wait(timeout=10)  # a slow query
        return f"done {value}"

    wrapped = _InThread(SimpleNamespace(fn=slow_handler, _type_hints={"value": int}))
    assert wrapped._is_coroutine_function and wrapped._type_hints == {"value": int}
    assert wrapped.fn.__qualname__ == slow_handler.__qualname__  # metrics keep their label

    async def scenario() -> str:
        who.set("agent 7")  # what the session middleware sets for this event
        handler = asyncio.ensure_future(wrapped.fn(object(), value=3))
        await asyncio.sleep(0.05)  # another tab's work, on the loop, while the handler waits
        loop_moved.set()
        return await handler

    assert run_async(scenario()) == "done 3"
    assert seen["thread"] != threading.get_ident()
    assert seen["who"] == "agent 7"
    assert seen["loop_moved"] is True  # on the loop itself, it would have waited in vain


def test_a_cancelled_event_ends_only_after_its_thread_so_no_late_write_lands() -> None:
    finished: list[float] = []

    def slow_handler(state: object) -> None:
        time.sleep(0.4)
        finished.append(time.monotonic())

    wrapped = _InThread(SimpleNamespace(fn=slow_handler, _type_hints={}))

    async def scenario() -> float:
        task = asyncio.create_task(wrapped.fn(object()))
        await asyncio.sleep(0.05)
        task.cancel()  # as Reflex cancels an on-load that a newer one supersedes
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert task.cancelled()
        return time.monotonic()

    ended = run_async(scenario())
    assert finished and finished[0] <= ended  # the handler was done before the event let go
