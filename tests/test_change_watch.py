"""Open views on one web worker share one reader of the change counter (crm_app/change_watch.py):
many waiting tabs cost one query per poll, and each wakes soon after a change."""

from __future__ import annotations

import asyncio
import time

import pytest

from crm_app import change_watch
from crm_app.services import live
from tests.factories import make_client, make_ticket, make_user, run_async


def test_many_waiting_views_share_one_read_per_poll_and_all_wake_on_a_change(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[float] = []
    real_read = live.current_counter

    def counted() -> int:
        reads.append(time.monotonic())
        return real_read()

    monkeypatch.setattr(live, "current_counter", counted)
    agent = make_user("agent")
    before = real_read()

    async def scenario() -> tuple[list[int | None], float, float]:
        # Twenty tabs wait for a change past what they loaded.
        views = [asyncio.create_task(change_watch.next_change(before, 20)) for _ in range(20)]
        await asyncio.sleep(2.5)  # quiet: nobody wakes, the counter is read about twice
        assert not any(view.done() for view in views)
        quiet_reads = len(reads)
        await asyncio.to_thread(make_ticket, agent, make_client(agent), "Wire not received")
        changed = time.monotonic()
        woke = await asyncio.gather(*views)
        return woke, quiet_reads, time.monotonic() - changed

    woke, quiet_reads, waited = run_async(scenario())
    assert quiet_reads <= 4  # one reader for all twenty, not twenty
    assert all(value is not None and value > before for value in woke)
    assert len(set(woke)) == 1  # every view saw the same reading
    assert waited <= change_watch.POLL_SECONDS + 2


def test_a_quiet_wait_ends_at_its_timeout_with_the_counter_unchanged(db: str) -> None:
    async def scenario() -> tuple[int | None, float]:
        now = await asyncio.to_thread(live.current_counter)
        started = time.monotonic()
        value = await change_watch.next_change(now, 1.5)
        return (value if value is None else value - now), time.monotonic() - started

    moved, waited = run_async(scenario())
    assert moved == 0
    assert 1.4 <= waited <= 3
