"""After-commit events: the last step of every domain action.

An action checks permission, writes, audits and commits; then it calls `emit(Event(...))`.
Subscribers run after the commit, in the order they registered, each on its own: one that
fails is logged and never undoes or fails the action nor stops the others. What subscribes
today: notifications (assigned, client replied, @mentions) and live updates (open views
reload). An outbound channel plugs in the same way, for example the email channel:

    @events.subscriber("message.added")
    def send_reply_by_email(event: events.Event) -> None: ...

Event names: ticket.created, ticket.updated, ticket.assigned, ticket.read, ticket.merged,
message.added (replies, client answers and internal notes; `payload["internal"]` tells).

Outbox writers (webhook deliveries) must not run after the commit: a crash between the commit
and their write would lose the message. They subscribe with `subscribe_in_transaction`, and the
action hands its event to `stage(session, event)` before it commits, so their rows commit with
the change or not at all. An event emitted without being staged still reaches them, after the
commit, in a transaction of their own (the old, weaker behaviour).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlmodel import Session

from crm_app.auth.permissions import Actor
from crm_app.db import session_scope

log = logging.getLogger(__name__)

ANY = "*"  # subscribe to every event

# Modules whose import registers their subscribers; loaded before the first emit, so an action
# never depends on who happened to import them first.
BUILTIN_SUBSCRIBERS = (
    "crm_app.services.notifications",
    "crm_app.services.live",
    "crm_app.services.webhooks",
)


@dataclass(frozen=True)
class Event:
    name: str
    actor: Actor | None
    ticket_id: int | None = None
    number: int | None = None
    subject: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    # Its outbox writers already ran in the action's transaction (`stage`).
    staged: bool = field(default=False, compare=False)


Subscriber = Callable[[Event], None]
TransactionSubscriber = Callable[[Session, Event], None]
BatchSubscriber = Callable[[Sequence[Event]], None]
_subscribers: dict[str, list[Subscriber]] = {}
_in_transaction: dict[str, list[TransactionSubscriber]] = {}
# Run once per emitted batch with all its events (a bulk action such as the mail intake emits
# hundreds at once); a single `emit` is a batch of one.
_batch_subscribers: list[BatchSubscriber] = []
_builtins_loaded = False


def subscribe(name: str, handler: Subscriber) -> Subscriber:
    """Run `handler` after the commit of every `name` event (ANY: every event). Idempotent."""
    handlers = _subscribers.setdefault(name, [])
    if handler not in handlers:
        handlers.append(handler)
    return handler


def subscriber(name: str) -> Callable[[Subscriber], Subscriber]:
    """Decorator form of `subscribe`."""
    return lambda handler: subscribe(name, handler)


def batch_subscriber(handler: BatchSubscriber) -> BatchSubscriber:
    """Run `handler` once after each committed batch of events, with all of them (for work
    that one batch needs once, not once per event: the live-update signal). Idempotent."""
    if handler not in _batch_subscribers:
        _batch_subscribers.append(handler)
    return handler


def unsubscribe(name: str, handler: Subscriber) -> None:
    if handler in _subscribers.get(name, []):
        _subscribers[name].remove(handler)


def subscribe_in_transaction(name: str, handler: TransactionSubscriber) -> TransactionSubscriber:
    """Run `handler(session, event)` inside the transaction of every action that stages a
    `name` event: for outbox rows, which must commit with the change. Idempotent."""
    handlers = _in_transaction.setdefault(name, [])
    if handler not in handlers:
        handlers.append(handler)
    return handler


def stage(session: Session, event: Event) -> Event:
    """Write the event's outbox rows in the action's own transaction (call before the commit);
    returns the event to `emit` after the commit. A failing writer fails the action: a change
    whose webhook would be lost is rolled back rather than committed."""
    _load_builtins()
    for handler in _in_transaction.get(event.name, []):
        handler(session, event)
    return replace(event, staged=True)


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in BUILTIN_SUBSCRIBERS:
            importlib.import_module(module)


def emit(event: Event) -> None:
    """Hand a committed change to its subscribers. Call only after the commit."""
    emit_all([event])


def emit_all(batch: Sequence[Event]) -> None:
    """Hand the events of one committed batch to their subscribers, in order; batch
    subscribers run once, after them, with the whole batch. Call only after the commit."""
    _load_builtins()
    late = [event for event in batch if not event.staged]
    if late:
        _late_outbox(late)
    for event in batch:
        for handler in [*_subscribers.get(event.name, []), *_subscribers.get(ANY, [])]:
            _run(handler, event, event.name, event.number)
    if batch:
        for batch_handler in _batch_subscribers:
            _run(batch_handler, batch, batch[0].name, batch[0].number)


def _run(handler: Callable[[Any], None], arg: Any, name: str, number: int | None) -> None:
    try:
        handler(arg)
    except Exception:  # the change is committed: a subscriber never fails it afterwards
        log.exception(
            "event subscriber failed",
            extra={
                "event": name,
                "number": number,
                "subscriber": getattr(handler, "__qualname__", repr(handler)),
            },
        )


def _late_outbox(batch: Sequence[Event]) -> None:
    """Events their action did not stage: their outbox rows, after the commit, in one
    transaction of their own (one per event when the batch's fails)."""
    try:
        with session_scope() as session:
            for event in batch:
                for handler in _in_transaction.get(event.name, []):
                    handler(session, event)
        return
    except Exception:
        if len(batch) == 1:
            log.exception(
                "outbox writer failed", extra={"event": batch[0].name, "number": batch[0].number}
            )
            return
    for event in batch:
        _late_outbox([event])
