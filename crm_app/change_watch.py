"""One reader of the change counter per web worker, shared by every open view on it.

An open queue reloads when a ticket or message changed anywhere (`services/live.py`). Each tab
used to read the counter itself every few seconds, with its session looked up and its state
fetched and locked each time: at fifty agents, dozens of queries and state round trips a second
that found nothing new most of the time. Now one task per worker reads the counter every
`POLL_SECONDS` while any view waits, and the views sleep until it moves (or until their own
timeout, to re-check their session): a quiet workspace costs one small query a second per
worker, whatever the number of tabs.

The counter says only that something changed; a view still checks its session and permission
(through its service call) before it reads anything.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from crm_app.services import live

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


class _Watch:
    """The counter as last read on one event loop, and the views waiting for it to move."""

    def __init__(self) -> None:
        self.value: int | None = None
        self.moved = asyncio.Condition()
        self.waiting = 0
        self.task: asyncio.Task | None = None

    async def poll(self) -> None:
        try:
            while self.waiting:
                try:
                    value = await asyncio.to_thread(live.current_counter)
                except Exception:  # the database is away: the views wait, the next read retries
                    log.warning("could not read the change counter", exc_info=True)
                else:
                    if value != self.value:
                        self.value = value
                        async with self.moved:
                            self.moved.notify_all()
                await asyncio.sleep(POLL_SECONDS)
        finally:
            self.task = None

    async def next_value(self, seen: int, timeout: float) -> int | None:
        self.waiting += 1
        try:
            if self.task is None:  # nobody watched for a while: what was read then is stale
                self.value = None
                self.task = asyncio.create_task(self.poll())
            async with self.moved:
                await asyncio.wait_for(
                    self.moved.wait_for(lambda: self.value is not None and self.value != seen),
                    timeout,
                )
        except TimeoutError:
            pass
        finally:
            self.waiting -= 1
        return self.value


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watch] = weakref.WeakKeyDictionary()


async def next_change(seen: int, timeout: float) -> int | None:
    """Wait until the change counter differs from `seen` (at most `timeout` seconds) and return
    it as last read: equal to `seen` after a quiet timeout, None before the first read."""
    loop = asyncio.get_running_loop()
    watch = _watches.get(loop)
    if watch is None:
        watch = _watches[loop] = _Watch()
    return await watch.next_value(seen, timeout)
