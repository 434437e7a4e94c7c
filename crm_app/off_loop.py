"""Plain (non-async) service handlers run in a worker thread, not on the event loop.

Reflex calls a plain event handler on the backend's event loop, so while one agent's handler
waits for PostgreSQL nothing else on that worker moves: no other tab's event, no delta sent, no
lock released, no heartbeat answered. Under load (many agents on one worker) that wait queues
everyone behind it. `service_event` marks the plain handlers it wraps with `OFF_LOOP`, and
`install()` makes Reflex's per-event step run those in a thread (`asyncio.to_thread`, which
carries the event's context variables, so the handler still sees its own session).

Nothing else changes: the tab's state is held for this event alone (Reflex's per-tab lock) while
the thread runs, a returned chain of events is handled as before, and a generator handler is
never marked, so its steps stay on the loop. An event cancelled while its thread runs (a newer
page load superseding it) ends only once the thread has. Calling a handler directly (as tests
do) calls the plain function, in the caller's thread.

Events get threads of their own, as many as the database pool has connections: asyncio's
default pool (cores + 4 threads, six on two cores) is what the background loops' checks use,
and under load events queued behind those checks (and behind each other) while connections
sat idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

OFF_LOOP = "_crm_off_loop"

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def event_threads() -> ThreadPoolExecutor:
    """The threads events run in: one per pooled database connection (made on first use)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            from crm_app.settings import get_settings

            _executor = ThreadPoolExecutor(
                max_workers=max(4, get_settings().db_pool_size), thread_name_prefix="event"
            )
        return _executor


def in_event_thread(fn: Any, /, *args: Any, **kwargs: Any) -> asyncio.Future:
    """`asyncio.to_thread` on the event threads: the caller's context variables go along."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return asyncio.get_running_loop().run_in_executor(event_threads(), call)


class _InThread:
    """The parts of Reflex's `EventHandler` its event step reads, for a plain handler run as a
    coroutine in a thread."""

    def __init__(self, handler: Any) -> None:
        self._handler = handler
        plain = handler.fn

        async def fn(state: Any, **payload: Any) -> Any:
            work = asyncio.ensure_future(in_event_thread(plain, state, **payload))
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                # Cancelled (a newer page load supersedes this one): a thread cannot be
                # stopped, so the tab's state stays held until the handler has ended, as it
                # was while plain handlers ran on the loop; no stale write lands after.
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([work])
                raise

        fn.__qualname__, fn.__name__ = plain.__qualname__, plain.__name__
        self.fn = fn
        self._is_coroutine_function = True

    def __getattr__(self, name: str) -> Any:  # type hints, name, anything else: the handler's
        return getattr(self._handler, name)


def install() -> None:
    """Route marked handlers through a thread (idempotent)."""
    from reflex_base.event.processor import base_state_processor

    original = base_state_processor.process_event
    if getattr(original, OFF_LOOP, False):
        return

    async def process_event(handler: Any, payload: dict, state: Any, root_state: Any) -> Any:
        if getattr(handler.fn, OFF_LOOP, False) and not handler._is_coroutine_function:
            handler = _InThread(handler)
        return await original(handler, payload, state, root_state)

    setattr(process_event, OFF_LOOP, True)
    base_state_processor.process_event = process_event
